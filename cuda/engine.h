// Host launchers of the CUDA kernel library. Pure CUDA C++: no PyTorch, no Python.
#pragma once

#include <cuda_runtime_api.h>

#include <array>

#include "cpp/core/layout.h"
#include "cpp/core/ops.h"

namespace mykernels::cuda {

// Runs `op` elementwise on `stream` over the operands described by `layout`: ptrs[0] is the
// output, ptrs[1..] the inputs, all of `dtype` and on the stream's device. Returns the launch's
// error (cudaSuccess also when there is nothing to do).
template <class Op>
[[nodiscard]] cudaError_t launch_elementwise(const Op& op, DType dtype,
                                             const Layout<Op::kArity + 1>& layout,
                                             const std::array<void*, Op::kArity + 1>& ptrs,
                                             cudaStream_t stream);

// CUDA runtime version this library was compiled with, as CUDART_VERSION (13000 for 13.0).
[[nodiscard]] int compiled_runtime_version();

// Compute capability of `device` as one number (90 for sm_90).
[[nodiscard]] cudaError_t device_arch(int device, int* arch);

// The calling thread's current device, and setting it. The library links the CUDA runtime
// statically; the current device is the driver's, shared with torch's runtime.
[[nodiscard]] cudaError_t current_device(int* device);
[[nodiscard]] cudaError_t set_current_device(int device);

// The runtime's description of `err`.
[[nodiscard]] const char* error_string(cudaError_t err);

}  // namespace mykernels::cuda
