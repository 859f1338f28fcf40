// The binding's one path from tensors to the kernel libraries.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>

#include "mykernels/functors.h"

namespace mykernels {

// Writes op(inputs...) into `out`. The inputs have out's dtype, device and shape (broadcast inputs
// come expanded); `op_name` names the op in error messages. Runs on the CPU engine or, on the
// current stream of out's device, on the CUDA engine; the caller holds a device guard for out's
// device (the ops hold one from allocation to launch, ops.cpp).
template <class Op>
void run_elementwise(const char* op_name, const Op& op, const at::Tensor& out,
                     const std::array<at::Tensor, Op::kArity>& inputs);

}  // namespace mykernels
