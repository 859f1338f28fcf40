// The CUDA launchers: dispatch on the dtype and the layout to the kernels that instantiate.cu
// compiles once per storage type and launcher, and the device queries the binding needs.
#include "cuda/kernels.cuh"

namespace mykernels::cuda {
namespace detail {
// Compiled in the objects of instantiate.cu, not here.
#define MYKERNELS_EXTERN_STORAGE(OP, S)                   \
  MYKERNELS_LAUNCHER_INSTANCE(extern, launch_flat, OP, S) \
  MYKERNELS_LAUNCHER_INSTANCE(extern, launch_strided, OP, S)
#define MYKERNELS_EXTERN(OP)           \
  MYKERNELS_EXTERN_STORAGE(OP, float)  \
  MYKERNELS_EXTERN_STORAGE(OP, double) \
  MYKERNELS_EXTERN_STORAGE(OP, __half) \
  MYKERNELS_EXTERN_STORAGE(OP, __nv_bfloat16)
MYKERNELS_FOR_EACH_OP(MYKERNELS_EXTERN)
#undef MYKERNELS_EXTERN
#undef MYKERNELS_EXTERN_STORAGE

template <class Op, class S>
cudaError_t launch_typed(const Op& op, const Layout<Op::kArity + 1>& layout,
                         const Pointers<Op::kArity + 1>& ptrs, cudaStream_t stream) {
  if (layout.numel == 0) {
    return cudaSuccess;
  }
  return layout.is_flat() ? launch_flat<Op, S>(op, layout, ptrs, stream)
                          : launch_strided<Op, S>(op, layout, ptrs, stream);
}
}  // namespace detail

template <class Op>
cudaError_t launch_elementwise(const Op& op, DType dtype, const Layout<Op::kArity + 1>& layout,
                               const std::array<void*, Op::kArity + 1>& ptrs, cudaStream_t stream) {
  detail::Pointers<Op::kArity + 1> p{};
  for (int k = 0; k <= Op::kArity; ++k) {
    p.p[k] = ptrs[k];
  }
  switch (dtype) {
    case DType::Float32:
      return detail::launch_typed<Op, float>(op, layout, p, stream);
    case DType::Float64:
      return detail::launch_typed<Op, double>(op, layout, p, stream);
    case DType::Float16:
      return detail::launch_typed<Op, __half>(op, layout, p, stream);
    case DType::BFloat16:
      return detail::launch_typed<Op, __nv_bfloat16>(op, layout, p, stream);
  }
  return cudaErrorInvalidValue;
}

#define MYKERNELS_INSTANTIATE(OP)                                                              \
  template cudaError_t launch_elementwise<OP>(const OP&, DType, const Layout<OP::kArity + 1>&, \
                                              const std::array<void*, OP::kArity + 1>&,        \
                                              cudaStream_t);
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE

int compiled_runtime_version() { return CUDART_VERSION; }

cudaError_t device_arch(int device, int* arch) {
  int major = 0;
  int minor = 0;
  cudaError_t err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err == cudaSuccess) {
    err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  }
  *arch = major * 10 + minor;
  return err;
}

cudaError_t current_device(int* device) { return cudaGetDevice(device); }

cudaError_t set_current_device(int device) { return cudaSetDevice(device); }

const char* error_string(cudaError_t err) { return cudaGetErrorString(err); }

}  // namespace mykernels::cuda
