// The kernels of every op for one storage type, MYKERNELS_STORAGE, which cuda/CMakeLists.txt sets
// when it compiles this file once per dtype.
#include "elementwise.cuh"

#ifndef MYKERNELS_STORAGE
#error "compile with -DMYKERNELS_STORAGE=<float|double|__half|__nv_bfloat16>"
#endif

namespace mykernels::cuda::detail {
#define MYKERNELS_INSTANTIATE(OP) MYKERNELS_INSTANTIATE_TYPED(OP, MYKERNELS_STORAGE)
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE
}  // namespace mykernels::cuda::detail
