// The ops of the table (cpp/core/ops.h) on the LibTorch stable ABI: what their operators
// (operators.cpp) and the eager fast path (fast_path.cpp) share.
#pragma once

#include <torch/csrc/stable/tensor.h>

#include <array>
#include <cstdint>
#include <memory>

#include "api.h"
#include "elementwise.h"

namespace mykernels {

using torch::headeronly::ScalarType;
using torch::stable::Tensor;

// A strided tensor as the kernels see it: what a torch::stable::Tensor of the operators and a
// DLPack tensor of the fast path both reduce to.
struct View {
  void* data;
  int ndim;
  const std::int64_t* sizes;
  const std::int64_t* strides;
  ScalarType dtype;
  Device device;
  std::int64_t itemsize;  // bytes per element
};

View view_of(const Tensor& t);

inline constexpr int kMaxTorchDims = 64;  // torch's limit on a tensor's dimensions

// One call of an op with N inputs: the inputs' broadcast shape and each input's strides over it
// (0 along the dimensions where it is broadcast).
template <int N>
struct Call {
  DType dtype;  // the engines' name of the inputs' dtype
  int ndim;
  std::int64_t numel;
  std::int64_t shape[kMaxTorchDims];
  std::int64_t strides[N][kMaxTorchDims];
};

// Checks the inputs of `Op`, which already have the result's dtype and one device (the operators
// promote first; the fast path declines otherwise), and works out `call`. A user error (a dtype
// the kernels do not take, shapes that do not broadcast) is a std::runtime_error naming the op.
template <class Op>
MYKERNELS_API void prepare(const std::array<View, Op::kArity>& inputs, Call<Op::kArity>& call);

// A tensor handle that mykernels owns: deleted with it unless released. The result of run: the
// fast path hands it to Python without the shared count a torch::stable::Tensor allocates; the
// operators wrap it in one for the dispatcher.
struct DeleteHandle {
  void operator()(AtenTensorHandle handle) const { (void)aoti_torch_delete_tensor_object(handle); }
};
using Owned = std::unique_ptr<AtenTensorOpaque, DeleteHandle>;

// Allocates the result (as torch would: the first input's layout when it has the result's shape,
// else contiguous) and runs `op` on the inputs' device.
template <class Op>
MYKERNELS_API Owned run(const Op& op, const std::array<View, Op::kArity>& inputs,
                        const Call<Op::kArity>& call);

// Checks that `out` can receive the result of `Op` on `inputs` (worked out in `call` by prepare)
// in place, by torch's rules for out= and in-place calls: out is on the inputs' device and has the
// result's shape, no two of its elements share memory, and it shares no memory with an input
// unless it is that input exactly (same memory, shape and strides). A failed check is a
// std::runtime_error naming `name`, the op's Python name (add, add_). The dtype is the caller's
// to check.
template <class Op>
MYKERNELS_API void check_out(const char* name, const std::array<View, Op::kArity>& inputs,
                             const Call<Op::kArity>& call, const View& out);

// Runs `op` on the inputs into `out`, which check_out accepted and which has the inputs' dtype.
template <class Op>
MYKERNELS_API void run_into(const Op& op, const std::array<View, Op::kArity>& inputs,
                            const Call<Op::kArity>& call, const View& out);

}  // namespace mykernels
