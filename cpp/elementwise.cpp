#include "elementwise.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/Exception.h>

#include "cpu/cpu_kernels.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif
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

// Asks the kernel to back the 2 MB-aligned part of a new CPU output with huge pages before the
// first write. Large outputs are fresh mappings whose every 4 KB page otherwise faults on first
// touch, and those faults are most of the time of a call on tens of megabytes (BENCHMARKS.md).
// Advisory: where transparent huge pages are off, nothing changes.
void advise_huge_pages(const at::Tensor& out) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  const auto data = reinterpret_cast<std::uintptr_t>(out.data_ptr());
  const std::uintptr_t begin = (data + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t end = (data + out.nbytes()) & ~(kHugePage - 1);
  if (end > begin) {
    (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
#else
  (void)out;
#endif
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
    advise_huge_pages(out);
    at::parallel_for(0, layout.numel, kCpuGrainSize, [&](std::int64_t begin, std::int64_t end) {
      cpu::run_elementwise(op, dtype, layout, ptrs, begin, end);
    });
    return;
  }
  TORCH_CHECK(out.device().is_cuda(), "mykernels.", op_name, ": tensors on ", out.device(),
              " are not supported; use CPU or CUDA tensors");
#ifdef MYKERNELS_WITH_CUDA
  const c10::DeviceGuard guard(out.device());
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
