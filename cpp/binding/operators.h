// The operators' implementations on the LibTorch stable ABI, shared by their registrations
// (operators.cpp) and the eager fast path of the public functions (fast_path.cpp).
#pragma once

#include <torch/csrc/stable/tensor.h>

#include <cstdint>

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
};

View view_of(const Tensor& t);

// The ops on inputs that already have the result's dtype (the operators promote first), add's on
// one device (the operator says so when they are not; the fast path declines). Each
// checks its arguments, allocates the result (as torch.empty_like would) and runs the kernel on
// the inputs' device; user errors are std::runtime_error with a message naming the op.
Tensor square(const View& x);
Tensor add(const View& a, const View& b, double alpha);
Tensor d_sigmoid(const View& z);

}  // namespace mykernels
