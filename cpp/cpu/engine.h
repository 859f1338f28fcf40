// The CPU kernel library: the same functors as the CUDA kernels, on raw pointers. No PyTorch.
#pragma once

#include <array>
#include <cstdint>

#include "cpp/core/layout.h"
#include "cpp/core/ops.h"

namespace mykernels::cpu {

// Runs `op` on the elements [begin, end) of the output's order, over the operands described by
// `layout` (ptrs[0] is the output, ptrs[1..] the inputs, all of `dtype`). Callers split
// [0, layout.numel) among threads.
template <class Op>
void run_elementwise(const Op& op, DType dtype, const Layout<Op::kArity + 1>& layout,
                     const std::array<void*, Op::kArity + 1>& ptrs, std::int64_t begin,
                     std::int64_t end);

// The vector extensions the kernels use on this CPU: "avx512_bf16" (AVX-512 with AVX512-BF16),
// "avx512", "avx2" or "default" (the x86-64 baseline, and every other architecture).
// MYKERNELS_CPU_CAPABILITY=default|avx2|avx512 caps the choice.
[[nodiscard]] const char* capability();

}  // namespace mykernels::cpu
