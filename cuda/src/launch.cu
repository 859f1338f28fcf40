// The CUDA launchers: dispatch on the dtype to the kernels that instantiate.cu compiles once per
// storage type, and the device queries the binding needs.
#include "elementwise.cuh"

namespace mykernels::cuda {
namespace detail {
// Compiled in the per-dtype objects, not here.
#define MYKERNELS_EXTERN(OP)                                                                    \
  extern template cudaError_t launch_typed<OP, float>(                                          \
      const OP&, const Layout<OP::kArity + 1>&, const Pointers<OP::kArity + 1>&, cudaStream_t); \
  extern template cudaError_t launch_typed<OP, double>(                                         \
      const OP&, const Layout<OP::kArity + 1>&, const Pointers<OP::kArity + 1>&, cudaStream_t); \
  extern template cudaError_t launch_typed<OP, __half>(                                         \
      const OP&, const Layout<OP::kArity + 1>&, const Pointers<OP::kArity + 1>&, cudaStream_t); \
  extern template cudaError_t launch_typed<OP, __nv_bfloat16>(                                  \
      const OP&, const Layout<OP::kArity + 1>&, const Pointers<OP::kArity + 1>&, cudaStream_t);
MYKERNELS_FOR_EACH_OP(MYKERNELS_EXTERN)
#undef MYKERNELS_EXTERN
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

}  // namespace mykernels::cuda
