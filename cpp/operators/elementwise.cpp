#include "elementwise.h"

#include <torch/csrc/stable/c/shim.h>
#include <torch/csrc/stable/ops.h>

#include "check.h"
#include "cpp/cpu/engine.h"
#include "runtime_symbols.h"

#ifdef MYKERNELS_WITH_CUDA
#include "cuda/engine.h"
#endif

namespace mykernels {
namespace {

// The end of the rebuild command the errors print after its environment variable: a command that
// works wherever the user is (the source path is theirs to fill in), and its variant that builds
// against the installed torch, which needs the build tools in the environment.
constexpr const char* kRebuild =
    " pip install --force-reinstall --no-deps <mykernels source directory> (or, to build against "
    "the installed torch: pip install scikit-build-core pybind11 cmake ninja, then the same "
    "command with --no-build-isolation)";

#ifdef MYKERNELS_WITH_CUDA
// torch's current CUDA stream of a device, through the stable C function
// aoti_torch_get_current_cuda_stream. That function lives in libtorch_cuda, which a CPU-only torch
// does not have, so it is looked up when first needed rather than linked: the op library loads
// under every torch, and a CUDA tensor (which only a CUDA torch makes) finds it loaded.
cudaStream_t current_stream(const char* op_name, std::int32_t device) {
  using GetStream = AOTITorchError (*)(std::int32_t, void**);
  static const auto get_stream =
      torch_symbol<GetStream>("libtorch_cuda.so", "aoti_torch_get_current_cuda_stream");
  MYKERNELS_CHECK(get_stream != nullptr, "mykernels.", op_name,
                  ": torch's CUDA library (libtorch_cuda.so) is not loaded, so the current CUDA "
                  "stream is unknown");
  void* stream = nullptr;
  MYKERNELS_CHECK(get_stream(device, &stream) == AOTI_TORCH_SUCCESS, "mykernels.", op_name,
                  ": could not get the current CUDA stream of cuda:", device);
  return static_cast<cudaStream_t>(stream);
}

void check_cuda(const char* op_name, cudaError_t err, std::int32_t device) {
  if (err == cudaSuccess) [[likely]] {
    return;
  }
  if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction) {
    int arch = 0;
    (void)cuda::device_arch(device, &arch);
    fail("mykernels.", op_name, ": this build of mykernels has no kernels for cuda:", device,
         ", an sm_", arch, " GPU; it was built for CUDA architectures [",
         MYKERNELS_CUDA_ARCHITECTURES,
         "]. Rebuild for this GPU with MYKERNELS_CUDA_ARCHITECTURES=", arch, kRebuild);
  }
  if (err == cudaErrorInsufficientDriver) {
    fail("mykernels.", op_name, ": the NVIDIA driver is older than the CUDA ",
         cuda::compiled_runtime_version() / 1000, ".", cuda::compiled_runtime_version() % 1000 / 10,
         " runtime this build of mykernels was compiled with (", cuda::error_string(err),
         "); update the driver, or build mykernels with the CUDA toolkit "
         "the driver supports");
  }
  fail("mykernels.", op_name, ": CUDA error on cuda:", device, ": ", cuda::error_string(err));
}

// Makes `device` the calling thread's current CUDA device for the launch, and restores the
// previous one after it. (The launch goes to the current device; the stream is that device's.)
class CurrentDevice {
 public:
  CurrentDevice(const char* op_name, std::int32_t device) {
    check_cuda(op_name, cuda::current_device(&previous_), device);
    if (previous_ != device) {
      check_cuda(op_name, cuda::set_current_device(device), device);
    }
    device_ = device;
  }
  ~CurrentDevice() {
    if (previous_ != device_) {
      (void)cuda::set_current_device(previous_);
    }
  }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int previous_ = 0;
  int device_ = 0;
};
#endif

}  // namespace

template <class Op>
void run_elementwise(const char* op_name, const Op& op, DType dtype, Device device, int ndim,
                     const std::int64_t* sizes,
                     const std::array<Operand, Op::kArity + 1>& operands) {
  constexpr int kOperands = Op::kArity + 1;
  const std::int64_t* strides[kOperands];
  std::array<void*, kOperands> ptrs{};
  for (int k = 0; k < kOperands; ++k) {
    strides[k] = operands[k].strides;
    ptrs[k] = operands[k].data;
  }
  Layout<kOperands> layout;
  if (!make_layout(ndim, sizes, strides, layout)) {
    // More dimensions than the engines walk, even after merging: one call per index of the
    // outermost dimension, each with one dimension fewer.
    std::array<Operand, kOperands> inner = operands;
    for (int k = 0; k < kOperands; ++k) {
      inner[k].strides = operands[k].strides + 1;
    }
    for (std::int64_t i = 0; i < sizes[0]; ++i) {
      for (int k = 0; k < kOperands; ++k) {
        const std::int64_t offset = i * operands[k].strides[0] * dtype_size(dtype);
        inner[k].data = static_cast<char*>(operands[k].data) + offset;
      }
      run_elementwise(op_name, op, dtype, device, ndim - 1, sizes + 1, inner);
    }
    return;
  }
  if (layout.numel == 0) {
    return;
  }
  if (device.kind == DeviceKind::CPU) {
    // A call of fewer elements than one grain runs on the calling thread, as torch's parallel_for
    // would run it, without the round trip through torch's C shim.
    if (layout.numel < kCpuGrainSize) {
      cpu::run_elementwise(op, dtype, layout, ptrs, 0, layout.numel);
      return;
    }
    torch::stable::parallel_for(0, layout.numel, kCpuGrainSize,
                                [&](std::int64_t begin, std::int64_t end) {
                                  cpu::run_elementwise(op, dtype, layout, ptrs, begin, end);
                                });
    return;
  }
#ifdef MYKERNELS_WITH_CUDA
  const CurrentDevice current(op_name, device.index);
  check_cuda(
      op_name,
      cuda::launch_elementwise(op, dtype, layout, ptrs, current_stream(op_name, device.index)),
      device.index);
#else
  fail("mykernels.", op_name, ": this build of mykernels has no CUDA kernels (it was built with ",
       "MYKERNELS_CUDA=OFF, or without nvcc or a CUDA build of torch). Rebuild with CUDA: ",
       "MYKERNELS_CUDA=ON", kRebuild);
#endif
}

#define MYKERNELS_INSTANTIATE(OP)                                               \
  template void run_elementwise<OP>(const char*, const OP&, DType, Device, int, \
                                    const std::int64_t*,                        \
                                    const std::array<Operand, OP::kArity + 1>&);
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE

}  // namespace mykernels
