// The CPU elementwise engine. A flat loop for dense operands with matching strides (written so
// that the compiler vectorizes it), and a strided walk for everything else that runs along the
// innermost dimension and carries into the outer ones. Threads are the caller's business: each
// call handles one range of output elements.
#include "cpp/cpu/engine.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace mykernels::cpu {
namespace detail {

// bfloat16 as stored by PyTorch: the upper 16 bits of a float32.
struct BFloat16 {
  std::uint16_t bits;
};

// IEEE half precision: sign, 5 exponent bits (bias 15), 10 mantissa bits.
struct Float16 {
  std::uint16_t bits;
};

// Loads a stored element into the compute type and rounds a result back (round to nearest even).
// The 16-bit conversions are written with integer and float operations that the compiler
// vectorizes for every instruction set (the compiler's own _Float16 conversions stay scalar).
template <class S>
struct Element {
  using Compute = S;
  static Compute load(S v) { return v; }
  static S store(Compute v) { return v; }
};

template <>
struct Element<Float16> {
  using Compute = float;
  static float load(Float16 v) {
    const std::uint32_t exponent = (v.bits >> 10) & 0x1F;
    const std::uint32_t mantissa = v.bits & 0x3FF;
    const std::uint32_t sign = std::uint32_t{v.bits & 0x8000u} << 16;
    // Normal numbers: rebias the exponent. Subnormals (and zero): mantissa * 2^-24, computed on a
    // normal float, so that flushing float subnormals to zero cannot touch it. Inf and NaN keep
    // their mantissa.
    const std::uint32_t normal = ((exponent + 112) << 23) | (mantissa << 13);
    const std::uint32_t subnormal = std::bit_cast<std::uint32_t>(
        static_cast<float>(static_cast<std::int32_t>(mantissa)) * 0x1p-24f);
    const std::uint32_t special = 0x7F800000u | (mantissa << 13);
    const std::uint32_t magnitude =
        exponent == 0 ? subnormal : (exponent == 0x1F ? special : normal);
    return std::bit_cast<float>(magnitude | sign);
  }
  static Float16 store(float v) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
    const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000);
    const std::uint32_t magnitude = bits & 0x7FFFFFFF;
    // NaN stays a (quiet) NaN; 65520 and above round to infinity.
    const std::uint32_t overflow = magnitude > 0x7F800000u ? 0x7E00 : 0x7C00;
    // Below 2^-14 the result is subnormal: adding 0.5 lets the float adder round the mantissa to
    // nearest even at the right place, and 0.5's bits are then subtracted.
    const std::uint32_t subnormal =
        std::bit_cast<std::uint32_t>(std::bit_cast<float>(magnitude) + 0.5f) - 0x3F000000u;
    // Normal: rebias the exponent and round the 13 dropped bits to nearest even.
    const std::uint32_t odd = (magnitude >> 13) & 1;
    const std::uint32_t normal = (magnitude + 0xC8000FFFu + odd) >> 13;
    const std::uint32_t half =
        magnitude >= 0x47800000u ? overflow : (magnitude < 0x38800000u ? subnormal : normal);
    return {static_cast<std::uint16_t>(half | sign)};
  }
};

template <>
struct Element<BFloat16> {
  using Compute = float;
  static float load(BFloat16 v) { return std::bit_cast<float>(std::uint32_t{v.bits} << 16); }
  static BFloat16 store(float v) {
    if (std::isnan(v)) {
      return {0x7FC0};
    }
    const std::uint32_t u = std::bit_cast<std::uint32_t>(v);
    const std::uint32_t rounding = 0x7FFF + ((u >> 16) & 1);
    return {static_cast<std::uint16_t>((u + rounding) >> 16)};
  }
};

template <class Op, class C, std::size_t... I>
C apply(const Op& op, const C (&args)[sizeof...(I)], std::index_sequence<I...>) {
  return op(args[I]...);
}

template <class Op, class S>
S compute(const Op& op, const S* const (&in)[Op::kArity], std::int64_t i) {
  using E = Element<S>;
  typename E::Compute args[Op::kArity];
  for (int k = 0; k < Op::kArity; ++k) {
    args[k] = E::load(in[k][i]);
  }
  return E::store(apply(op, args, std::make_index_sequence<Op::kArity>{}));
}

template <class Op, class S>
void run_typed(const Op& op, const Layout<Op::kArity + 1>& layout,
               const std::array<void*, Op::kArity + 1>& ptrs, std::int64_t begin,
               std::int64_t end) {
  constexpr int kIn = Op::kArity;
  S* out = static_cast<S*>(ptrs[0]);
  const S* in[kIn];
  for (int k = 0; k < kIn; ++k) {
    in[k] = static_cast<const S*>(ptrs[k + 1]);
  }

  if (layout.is_flat()) {
#pragma GCC ivdep
    for (std::int64_t i = begin; i < end; ++i) {
      out[i] = compute(op, in, i);
    }
    return;
  }

  // Multi-index of `begin` and the operands' offsets there.
  std::int64_t index[kMaxDims] = {};
  std::int64_t offset[kIn + 1] = {};
  std::int64_t rest = begin;
  for (int d = 0; d < layout.ndim; ++d) {
    index[d] = rest % layout.sizes[d];
    rest /= layout.sizes[d];
    for (int k = 0; k <= kIn; ++k) {
      offset[k] += index[d] * layout.strides[k][d];
    }
  }
  const std::int64_t inner_size = layout.sizes[0];
  for (std::int64_t i = begin; i < end;) {
    const std::int64_t run = std::min(inner_size - index[0], end - i);
    const S* row[kIn];
    for (int k = 0; k < kIn; ++k) {
      row[k] = in[k] + offset[k + 1];
    }
    S* out_row = out + offset[0];
    const std::int64_t out_stride = layout.strides[0][0];
    for (std::int64_t j = 0; j < run; ++j) {
      using E = Element<S>;
      typename E::Compute args[kIn];
      for (int k = 0; k < kIn; ++k) {
        args[k] = E::load(row[k][j * layout.strides[k + 1][0]]);
      }
      out_row[j * out_stride] = E::store(apply(op, args, std::make_index_sequence<kIn>{}));
    }
    i += run;
    // Advance the multi-index by `run` elements: the innermost dimension wraps into the next.
    index[0] += run;
    for (int k = 0; k <= kIn; ++k) {
      offset[k] += run * layout.strides[k][0];
    }
    for (int d = 0; d + 1 < layout.ndim && index[d] == layout.sizes[d]; ++d) {
      index[d] = 0;
      ++index[d + 1];
      for (int k = 0; k <= kIn; ++k) {
        offset[k] += layout.strides[k][d + 1] - layout.sizes[d] * layout.strides[k][d];
      }
    }
  }
}

// run_typed compiled for the vector extensions of recent x86-64 CPUs, chosen at run time: the rest
// of the library is compiled for the x86-64 baseline (SSE2), which torch's wheels also run on.
// `flatten` inlines everything run_typed calls into these functions, so that no code compiled for
// an extension is shared with, and called from, the baseline code.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MYKERNELS_CPU_DISPATCH 1

template <class Op, class S>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"),
               flatten)) void run_avx512(const Op& op, const Layout<Op::kArity + 1>& layout,
                                         const std::array<void*, Op::kArity + 1>& ptrs,
                                         std::int64_t begin, std::int64_t end) {
  run_typed<Op, S>(op, layout, ptrs, begin, end);
}

template <class Op, class S>
__attribute__((target("avx2,fma,f16c"), flatten)) void run_avx2(
    const Op& op, const Layout<Op::kArity + 1>& layout,
    const std::array<void*, Op::kArity + 1>& ptrs, std::int64_t begin, std::int64_t end) {
  run_typed<Op, S>(op, layout, ptrs, begin, end);
}

enum class Isa : std::uint8_t { Baseline, Avx2, Avx512 };

// The best extension set this CPU has, capped by MYKERNELS_CPU_CAPABILITY (default, avx2 or
// avx512), which lets tests run the other versions on one machine.
Isa detect_isa() {
  __builtin_cpu_init();
  Isa isa = Isa::Baseline;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    isa = Isa::Avx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
      isa = Isa::Avx512;
    }
  }
  // avx512 (or nothing) leaves the best; mykernels' __init__.py warns about any other value.
  const char* cap = std::getenv("MYKERNELS_CPU_CAPABILITY");
  if (cap != nullptr && std::strcmp(cap, "default") == 0) {
    isa = Isa::Baseline;
  } else if (cap != nullptr && std::strcmp(cap, "avx2") == 0) {
    isa = std::min(isa, Isa::Avx2);
  }
  return isa;
}

Isa selected_isa() {
  static const Isa isa = detect_isa();
  return isa;
}
#endif

template <class Op, class S>
void run_dispatched(const Op& op, const Layout<Op::kArity + 1>& layout,
                    const std::array<void*, Op::kArity + 1>& ptrs, std::int64_t begin,
                    std::int64_t end) {
#ifdef MYKERNELS_CPU_DISPATCH
  const Isa isa = selected_isa();
  if (isa == Isa::Avx512) {
    return run_avx512<Op, S>(op, layout, ptrs, begin, end);
  }
  if (isa == Isa::Avx2) {
    return run_avx2<Op, S>(op, layout, ptrs, begin, end);
  }
#endif
  run_typed<Op, S>(op, layout, ptrs, begin, end);
}

}  // namespace detail

const char* capability() {
#ifdef MYKERNELS_CPU_DISPATCH
  switch (detail::selected_isa()) {
    case detail::Isa::Avx512:
      return "avx512";
    case detail::Isa::Avx2:
      return "avx2";
    case detail::Isa::Baseline:
      break;
  }
#endif
  return "default";
}

template <class Op>
void run_elementwise(const Op& op, DType dtype, const Layout<Op::kArity + 1>& layout,
                     const std::array<void*, Op::kArity + 1>& ptrs, std::int64_t begin,
                     std::int64_t end) {
  switch (dtype) {
    case DType::Float32:
      return detail::run_dispatched<Op, float>(op, layout, ptrs, begin, end);
    case DType::Float64:
      return detail::run_dispatched<Op, double>(op, layout, ptrs, begin, end);
    case DType::Float16:
      return detail::run_dispatched<Op, detail::Float16>(op, layout, ptrs, begin, end);
    case DType::BFloat16:
      return detail::run_dispatched<Op, detail::BFloat16>(op, layout, ptrs, begin, end);
  }
}

#define MYKERNELS_INSTANTIATE(OP)                                                           \
  template void run_elementwise<OP>(const OP&, DType, const Layout<OP::kArity + 1>&,        \
                                    const std::array<void*, OP::kArity + 1>&, std::int64_t, \
                                    std::int64_t);
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE

}  // namespace mykernels::cpu
