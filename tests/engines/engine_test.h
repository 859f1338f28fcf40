// The engines' test, without torch: every op of the table (cpp/core/ops.h) run by an engine on raw
// host buffers, against a scalar reference, over ragged sizes, strided and broadcast inputs, for
// float32, float64, bfloat16 and float16. The reference applies the op's functor one element at a
// time in the compute type, so this checks the engine (loads, conversions, vector widths, tails,
// strides, the split of a call into ranges), while the math itself is checked against torch in
// float64 by the Python tests.
//
// An engine is a type with
//   template <class Op> void run(const Op&, DType, const Layout<Op::kArity + 1>&,
//                                std::array<std::vector<std::byte>, Op::kArity + 1>& buffers)
// that computes operand 0 from the others, where the layout's strides index each buffer.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "cpp/core/layout.h"
#include "cpp/core/ops.h"

namespace mykernels::engine_test {

// The storage types, with the engines' compute type and the host's conversions.
struct BFloat16 {
  std::uint16_t bits;
};

struct Float16 {
  std::uint16_t bits;
};

template <class S>
struct Storage {
  using Compute = S;
  static constexpr DType kDType = sizeof(S) == 8 ? DType::Float64 : DType::Float32;
  static constexpr double kTolerance = sizeof(S) == 8 ? 1e-13 : 2e-6;  // relative
  static S store(Compute v) { return v; }
  static Compute load(S v) { return v; }
};

template <>
struct Storage<BFloat16> {
  using Compute = float;
  static constexpr DType kDType = DType::BFloat16;
  static BFloat16 store(float v) {  // round to nearest even
    const std::uint32_t u = std::bit_cast<std::uint32_t>(v);
    return {static_cast<std::uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16)};
  }
  static float load(BFloat16 v) { return std::bit_cast<float>(std::uint32_t{v.bits} << 16); }
};

// IEEE half precision, converted the slow and plain way: every finite half as a float (exact), and
// rounding by search for the nearest, ties to the even bit pattern. Independent of the engine's
// bit tricks and of the CPU's conversion instructions.
template <>
struct Storage<Float16> {
  using Compute = float;
  static constexpr DType kDType = DType::Float16;

  // The finite non-negative halves, in order of value (bit patterns 0x0000..0x7BFF).
  static const std::vector<float>& magnitudes() {
    static const std::vector<float> table = [] {
      std::vector<float> t;
      for (std::uint32_t bits = 0; bits < 0x7C00; ++bits) {
        const std::uint32_t exponent = bits >> 10;
        const std::uint32_t mantissa = bits & 0x3FF;
        t.push_back(exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                                  : std::ldexp(static_cast<float>(mantissa | 0x400),
                                               static_cast<int>(exponent) - 25));
      }
      return t;
    }();
    return table;
  }
  static float load(Float16 v) {
    const std::uint16_t magnitude = v.bits & 0x7FFF;
    float value =
        magnitude >= 0x7C00 ? (magnitude == 0x7C00 ? INFINITY : NAN) : magnitudes()[magnitude];
    return (v.bits & 0x8000) != 0 ? -value : value;
  }
  static Float16 store(float v) {
    const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
    if (std::isnan(v)) {
      return {0x7E00};
    }
    const double a = std::abs(static_cast<double>(v));
    const auto& table = magnitudes();
    // 65520 (the largest half plus half an ulp) and above round to infinity.
    if (a >= 65520.0) {
      return {static_cast<std::uint16_t>(sign | 0x7C00)};
    }
    auto above =
        std::lower_bound(table.begin(), table.end(), a, [](float t, double x) { return t < x; });
    std::size_t bits = static_cast<std::size_t>(above - table.begin());
    if (bits > 0 && (bits == table.size() || a - table[bits - 1] < table[bits] - a ||
                     (a - table[bits - 1] == table[bits] - a && (bits - 1) % 2 == 0))) {
      --bits;
    }
    return {static_cast<std::uint16_t>(sign | bits)};
  }
};

// The op with its float members set to values other than 0 and 1 (the binding checks that the
// members are exactly the schema's doubles), so that they are seen to reach the kernel.
template <class Op>
Op make_op() {
  if constexpr (std::is_empty_v<Op>) {
    return Op{};
  } else {
    std::array<double, sizeof(Op) / sizeof(double)> values{};
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = 0.75 - 1.5 * static_cast<double>(i);
    }
    return std::bit_cast<Op>(values);
  }
}

// Deterministic values in (-4, 4), never 0.
inline double value(std::uint64_t seed, std::int64_t i) {
  std::uint64_t x =
      (seed + 1) * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(i) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return (static_cast<double>(x >> 11) / 9007199254740992.0) * 8.0 - 4.0 + 1e-3;
}

// Values where conversions and the math have edges: zeros, float16 subnormals and the smallest
// normal, halfway cases of the 16-bit types, float16's largest finite value and its overflow,
// infinities and NaN. Input k at element i takes entry (i * (k + 1) + k) of the list, so that
// binary ops see many pairs.
inline double special_value(int k, std::int64_t i) {
  static constexpr double kSpecials[] = {
      0.0,     -0.0,  0x1p-24, 0x1p-20,  0x1p-14,   6e-5,    0x1.004p0, 1.0 + 0x1p-11, 0.5,  -2.5,
      255.875, 256.0, 300.0,   -300,     65504.0,   65519.0, 65520.0,   1e5,           1e30, -1e30,
      1e-30,   100.0, -100.0,  INFINITY, -INFINITY, NAN,     3.0e-3,    -7.25,
  };
  constexpr std::int64_t kCount = sizeof(kSpecials) / sizeof(kSpecials[0]);
  return kSpecials[(i * (k + 1) + k) % kCount];
}

struct Result {
  int cases = 0;
  int failures = 0;
};

// Runs Op in storage S on operands of shape `sizes` (outermost first): the output contiguous, input
// k with strides `strides[k]` (0 where it is broadcast), and compares with the scalar reference.
template <class Op, class S, class Engine>
void check(Engine& engine, const std::string& name, const std::vector<std::int64_t>& sizes,
           const std::array<std::vector<std::int64_t>, Op::kArity>& strides, Result& result,
           bool specials = false) {
  constexpr int kOperands = Op::kArity + 1;
  using T = Storage<S>;
  const int ndim = static_cast<int>(sizes.size());
  std::array<std::vector<std::int64_t>, kOperands> all_strides;
  all_strides[0].assign(ndim, 1);
  for (int d = ndim - 2; d >= 0; --d) {
    all_strides[0][d] = all_strides[0][d + 1] * std::max<std::int64_t>(sizes[d + 1], 1);
  }
  for (int k = 0; k < Op::kArity; ++k) {
    all_strides[k + 1] = strides[k];
  }
  std::int64_t numel = 1;
  for (std::int64_t size : sizes) {
    numel *= size;
  }
  // Each operand's buffer spans its largest offset; inputs get fresh values, the output a marker.
  std::array<std::vector<std::byte>, kOperands> buffers;
  for (int k = 0; k < kOperands; ++k) {
    std::int64_t span = numel == 0 ? 0 : 1;
    for (int d = 0; d < ndim && numel > 0; ++d) {
      span += (sizes[d] - 1) * all_strides[k][d];
    }
    buffers[k].resize(static_cast<std::size_t>(span) * sizeof(S));
    for (std::int64_t i = 0; i < span; ++i) {
      const double x = k == 0 ? 1e30 : specials ? special_value(k, i) : value(k, i);
      const S v = T::store(static_cast<typename T::Compute>(x));
      std::memcpy(buffers[k].data() + i * sizeof(S), &v, sizeof(S));
    }
  }
  const std::int64_t* stride_ptrs[kOperands];
  for (int k = 0; k < kOperands; ++k) {
    stride_ptrs[k] = all_strides[k].data();
  }
  Layout<kOperands> layout;
  if (!make_layout(ndim, sizes.data(), stride_ptrs, layout)) {
    std::printf("FAIL %s %s: make_layout refused %d dimensions\n", Op::kName, name.c_str(), ndim);
    ++result.failures;
    return;
  }
  const Op op = make_op<Op>();
  std::array<std::vector<std::byte>, kOperands> inputs = buffers;
  engine.run(op, T::kDType, layout, buffers);
  ++result.cases;
  // The reference, element by element in the output's (row-major) order.
  std::vector<std::int64_t> index(ndim, 0);
  for (std::int64_t i = 0; i < numel; ++i) {
    std::int64_t rest = i;
    for (int d = ndim - 1; d >= 0; --d) {
      index[d] = rest % sizes[d];
      rest /= sizes[d];
    }
    std::array<std::int64_t, kOperands> offsets{};
    for (int k = 0; k < kOperands; ++k) {
      for (int d = 0; d < ndim; ++d) {
        offsets[k] += index[d] * all_strides[k][d];
      }
    }
    std::array<typename T::Compute, Op::kArity> args;
    for (int k = 0; k < Op::kArity; ++k) {
      S v;
      std::memcpy(&v, inputs[k + 1].data() + offsets[k + 1] * sizeof(S), sizeof(S));
      args[k] = T::load(v);
    }
    // The reference in the compute type, and in double: an engine may round like either (nvcc
    // fuses a + alpha * b into one multiply-add, which rounds once, like the double one).
    const auto in_double = [&] {
      std::array<double, Op::kArity> wide;
      for (int k = 0; k < Op::kArity; ++k) {
        wide[k] = args[k];
      }
      return std::apply([&](auto... a) { return op(a...); }, wide);
    };
    const auto exact = static_cast<double>(std::apply([&](auto... a) { return op(a...); }, args));
    const double wide = in_double();
    const auto exact_wide = static_cast<double>(static_cast<typename T::Compute>(wide));
    const double want = T::load(T::store(static_cast<typename T::Compute>(exact)));
    S got_s;
    std::memcpy(&got_s, buffers[0].data() + offsets[0] * sizeof(S), sizeof(S));
    const double got = T::load(got_s);
    // bfloat16 and float16: the rounding (to nearest even) of a float within float32's tolerance of
    // the reference, so that an engine's float result may differ by a few float ulps, but its
    // conversion must round as torch's does.
    const auto rounds_from = [&](double w) {
      if (std::isnan(w) || std::isinf(w)) {
        return got == w || (std::isnan(got) && std::isnan(w));
      }
      const double r = Storage<float>::kTolerance * std::abs(w);
      const auto rounded = [](double x) {
        return T::load(T::store(static_cast<typename T::Compute>(x)));
      };
      const double low = rounded(w - r);
      const double high = rounded(w + r);
      // A reference exactly halfway (add and square are exact in float on 16-bit inputs) must
      // round to even, as its own rounding does.
      if (low != high && w == (low + high) / 2) {
        return got == rounded(w);
      }
      return low <= got && got <= high;
    };
    // For float64 nothing wider is at hand: a fused multiply-add may then differ from the
    // reference by a few ulps of the inputs' magnitude where the op cancels.
    double magnitude = 0;
    for (const auto arg : args) {
      magnitude = std::max(magnitude, std::abs(static_cast<double>(arg)));
    }
    bool close = false;
    if constexpr (sizeof(S) == 2) {
      // The double reference itself, not rounded to float: a value just off a halfway point of
      // the 16-bit type can round onto it in float, where the halfway rule above would then
      // demand the wrong neighbour (d_sigmoid of float16 0.11279296875 is 0.2492065421, under
      // the halfway point 0.24920654296875 that float rounds it to).
      close = rounds_from(exact) || rounds_from(wide);
    } else {
      // float32 and float64: within the relative tolerance of the rounded reference.
      const auto near = [&](double w) {
        return got == w || std::abs(got - w) <= T::kTolerance * std::abs(w) ||
               (std::isnan(got) && std::isnan(w));
      };
      close = near(want) || near(T::load(T::store(exact_wide))) ||
              (T::kDType == DType::Float64 && std::abs(got - want) <= 0x1p-49 * magnitude);
    }
    if (!close) {
      std::printf("FAIL %s %s dtype %d: element %lld is %.9g, expected %.9g\n", Op::kName,
                  name.c_str(), static_cast<int>(T::kDType), static_cast<long long>(i), got, want);
      ++result.failures;
      return;
    }
  }
}

// Every op, storage type and case.
template <class Op, class S, class Engine>
void check_all_cases(Engine& engine, Result& result) {
  constexpr int kArity = Op::kArity;
  auto same = [](std::vector<std::int64_t> s) {
    std::array<std::vector<std::int64_t>, kArity> all;
    all.fill(s);
    return all;
  };
  // Ragged flat sizes: empty, single elements, around the vector widths and the block tiles.
  for (std::int64_t n : {0, 1, 2, 3, 7, 8, 9, 15, 17, 31, 33, 127, 511, 513, 2049, 4097, 100003}) {
    check<Op, S>(engine, "flat " + std::to_string(n), {n}, same({1}), result);
  }
  // Transposed inputs (37 x 129 read column-major), and every other element of the last dimension.
  check<Op, S>(engine, "transposed", {37, 129}, same({1, 37}), result);
  check<Op, S>(engine, "sliced", {37, 65}, same({130, 2}), result);
  // A 4-d call whose inputs are contiguous in their last two dimensions only.
  check<Op, S>(engine, "4-d", {3, 5, 7, 11}, same({5 * 7 * 11 * 2, 7 * 11 * 2, 11, 1}), result);
  // Broadcast: the last input is a row repeated over the rows (stride 0), the others full.
  std::array<std::vector<std::int64_t>, kArity> broadcast = same({129, 1});
  broadcast[kArity - 1] = {0, 1};
  check<Op, S>(engine, "broadcast row", {37, 129}, broadcast, result);
  // Broadcast: the last input is one element for everything.
  broadcast[kArity - 1] = {0, 0};
  check<Op, S>(engine, "broadcast scalar", {37, 129}, broadcast, result);
  // The edge values, flat (around the vector widths) and strided.
  check<Op, S>(engine, "special values", {1003}, same({1}), result, true);
  check<Op, S>(engine, "special values sliced", {31, 29}, same({58, 2}), result, true);
}

template <class Engine>
int run_all(Engine& engine, const char* engine_name) {
  Result result;
#define MYKERNELS_CHECK_OP(OP)                   \
  check_all_cases<OP, float>(engine, result);    \
  check_all_cases<OP, double>(engine, result);   \
  check_all_cases<OP, BFloat16>(engine, result); \
  check_all_cases<OP, Float16>(engine, result);
  MYKERNELS_FOR_EACH_OP(MYKERNELS_CHECK_OP)
#undef MYKERNELS_CHECK_OP
  std::printf("%s engine: %d cases, %d failed\n", engine_name, result.cases, result.failures);
  return result.failures == 0 && result.cases > 0 ? 0 : 1;
}

}  // namespace mykernels::engine_test
