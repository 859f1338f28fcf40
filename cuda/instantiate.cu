// The kernels of every op for one storage type and one launcher, MYKERNELS_STORAGE and
// MYKERNELS_LAUNCHER (launch_flat or launch_strided), which cuda/CMakeLists.txt sets when it
// compiles this file once per pair.
#include "cuda/kernels.cuh"

#if !defined(MYKERNELS_STORAGE) || !defined(MYKERNELS_LAUNCHER)
#error \
    "compile with -DMYKERNELS_STORAGE=<float|double|__half|__nv_bfloat16> and -DMYKERNELS_LAUNCHER=<launch_flat|launch_strided>"
#endif

namespace mykernels::cuda::detail {
#define MYKERNELS_INSTANTIATE(OP) \
  MYKERNELS_LAUNCHER_INSTANCE(, MYKERNELS_LAUNCHER, OP, MYKERNELS_STORAGE)
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE
}  // namespace mykernels::cuda::detail
