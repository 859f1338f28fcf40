// The operators' implementations, shared by their registrations (ops.cpp) and the eager fast path
// of the public functions (module.cpp). Each checks its arguments, allocates the result and runs
// the kernel on the inputs' device; user errors are c10::Error with a message naming the op.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Scalar.h>

namespace mykernels {

at::Tensor square(const at::Tensor& x);
at::Tensor add(const at::Tensor& a, const at::Tensor& b, const c10::Scalar& alpha);
at::Tensor d_sigmoid(const at::Tensor& z);

}  // namespace mykernels
