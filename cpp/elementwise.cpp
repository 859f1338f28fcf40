#include "elementwise.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/Exception.h>

#include "cpu/cpu_kernels.h"
#include "mykernels/layout.h"

#ifdef MYKERNELS_WITH_CUDA
#include "mykernels/cuda_kernels.h"
#endif

namespace mykernels {
namespace {

// Output elements below which a CPU call stays on the calling thread.
constexpr std::int64_t kCpuGrainSize = 32768;

DType to_dtype(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float:
      return DType::Float32;
    case c10::ScalarType::Double:
      return DType::Float64;
    case c10::ScalarType::Half:
      return DType::Float16;
    case c10::ScalarType::BFloat16:
      return DType::BFloat16;
    default:
      TORCH_INTERNAL_ASSERT(false, "mykernels: no kernel for dtype ", type);
  }
}

#ifdef MYKERNELS_WITH_CUDA
void check_cuda(const char* op_name, cudaError_t err, c10::DeviceIndex device) {
  if (err == cudaSuccess) {
    return;
  }
  if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction) {
    int arch = 0;
    (void)cuda::device_arch(device, &arch);
    TORCH_CHECK(false, "mykernels.", op_name,
                ": this build of mykernels has no kernels for cuda:", static_cast<int>(device),
                ", an sm_", arch, " GPU; it was built for CUDA ", "architectures [",
                MYKERNELS_CUDA_ARCHITECTURES, "]. Rebuild for this GPU with ",
                "MYKERNELS_CUDA_ARCHITECTURES=", arch, " pip install --no-build-isolation .");
  }
  TORCH_CHECK(false, "mykernels.", op_name, ": CUDA error on cuda:", static_cast<int>(device), ": ",
              cudaGetErrorString(err));
}
#endif

}  // namespace

template <class Op>
void run_elementwise(const char* op_name, const Op& op, const at::Tensor& out,
                     const std::array<at::Tensor, Op::kArity>& inputs) {
  constexpr int kOperands = Op::kArity + 1;
  if (out.numel() == 0) {
    return;
  }
  const std::int64_t* strides[kOperands];
  std::array<void*, kOperands> ptrs{};
  strides[0] = out.strides().data();
  ptrs[0] = out.data_ptr();
  for (int k = 0; k < Op::kArity; ++k) {
    TORCH_INTERNAL_ASSERT(inputs[k].sizes() == out.sizes() &&
                          inputs[k].scalar_type() == out.scalar_type() &&
                          inputs[k].device() == out.device());
    strides[k + 1] = inputs[k].strides().data();
    ptrs[k + 1] = const_cast<void*>(inputs[k].const_data_ptr());
  }
  Layout<kOperands> layout;
  if (!make_layout(static_cast<int>(out.dim()), out.sizes().data(), strides, layout)) {
    // More dimensions than the engines walk: compute on contiguous copies.
    std::array<at::Tensor, Op::kArity> dense;
    for (int k = 0; k < Op::kArity; ++k) {
      dense[k] = inputs[k].contiguous();
    }
    const at::Tensor result = at::empty(out.sizes(), out.options());
    run_elementwise(op_name, op, result, dense);
    out.copy_(result);
    return;
  }
  const DType dtype = to_dtype(out.scalar_type());

  if (out.device().is_cpu()) {
    at::parallel_for(0, layout.numel, kCpuGrainSize, [&](std::int64_t begin, std::int64_t end) {
      cpu::run_elementwise(op, dtype, layout, ptrs, begin, end);
    });
    return;
  }
  TORCH_CHECK(out.device().is_cuda(), "mykernels.", op_name, ": tensors on ", out.device(),
              " are not supported; use CPU or CUDA tensors");
#ifdef MYKERNELS_WITH_CUDA
  const c10::Stream stream =
      c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->getStream(out.device());
  check_cuda(op_name,
             cuda::launch_elementwise(op, dtype, layout, ptrs,
                                      static_cast<cudaStream_t>(stream.native_handle())),
             out.device().index());
#else
  TORCH_CHECK(false, "mykernels.", op_name, ": this build of mykernels has no CUDA kernels ",
              "(it was built with MYKERNELS_CUDA=OFF, or without nvcc or a CUDA build of torch). ",
              "Rebuild with CUDA: MYKERNELS_CUDA=ON pip install --no-build-isolation .");
#endif
}

#define MYKERNELS_INSTANTIATE(OP)                                              \
  template void run_elementwise<OP>(const char*, const OP&, const at::Tensor&, \
                                    const std::array<at::Tensor, OP::kArity>&);
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE

}  // namespace mykernels
