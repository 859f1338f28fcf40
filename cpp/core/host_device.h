// MYKERNELS_HOST_DEVICE: marks the torch-free code that both engines compile, for the CPU compiler
// and for nvcc (which then compiles it for the host and the GPU).
#pragma once

#if defined(__CUDACC__)
#define MYKERNELS_HOST_DEVICE __host__ __device__
#else
#define MYKERNELS_HOST_DEVICE
#endif
