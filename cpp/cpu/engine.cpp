// The CPU elementwise engine. Every call is a walk over rows: one row for dense operands with
// matching strides, and otherwise a strided walk that runs along the innermost dimension and
// carries into the outer ones. A row is done in blocks: the inputs are loaded into the compute
// type, the op runs over the block as one loop that the compiler vectorizes, and the results are
// stored back (run_row). Threads are the caller's business: each call handles one range of output
// elements.
#include "cpp/cpu/engine.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

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
  static constexpr DType kDType = kDTypeOf<S>;
  static Compute load(S v) { return v; }
  static S store(Compute v) { return v; }
};

template <>
struct Element<Float16> {
  using Compute = float;
  static constexpr DType kDType = DType::Float16;
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
  static constexpr DType kDType = DType::BFloat16;
  static float load(BFloat16 v) { return std::bit_cast<float>(std::uint32_t{v.bits} << 16); }
  static BFloat16 store(float v) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(v);
    const std::uint32_t rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16;
    return {static_cast<std::uint16_t>(std::isnan(v) ? 0x7FC0u : rounded)};
  }
};

// The instruction sets the engine is compiled for (run_avx2, run_avx512 and run_avx512_bf16
// below); the baseline is x86-64's SSE2, AArch64's ASIMD, or whatever the compiler targets
// elsewhere. Avx512Bf16 is AVX-512 with AVX512-BF16's conversion to bfloat16.
enum class Isa : std::uint8_t { Baseline, Avx2, Avx512, Avx512Bf16 };

// Conversion of a run of stored elements to the compute type and back. By default element by
// element, which the compiler vectorizes (Element above). With AVX2, eight elements an
// instruction sequence: float16 through F16C's conversion instructions (every AVX2 CPU has F16C),
// bfloat16 through AVX2's integer instructions; with AVX-512, sixteen.
template <Isa kIsa, class S>
struct Convert {
  using E = Element<S>;
  using C = typename E::Compute;
  // Element by element: run_row then fuses the conversions into the op's loop on dense rows.
  static constexpr bool kPerElement = true;
  static void load(const S* src, C* dst, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) {
      dst[j] = E::load(src[j]);
    }
  }
  static void store(const C* src, S* dst, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) {
      dst[j] = E::store(src[j]);
    }
  }
};

// The conversions of each instruction set, and the elements run_row converts at a time: one
// vector register of floats.
template <auto kLoad, auto kStore, std::int64_t kVectorLanes>
struct VectorConvert {
  static constexpr bool kPerElement = false;
  static constexpr std::int64_t kLanes = kVectorLanes;
  template <class S>
  [[gnu::always_inline]] static void load(const S* src, float* dst, std::int64_t n) {
    kLoad(src, dst, n);
  }
  template <class S>
  [[gnu::always_inline]] static void store(const float* src, S* dst, std::int64_t n) {
    kStore(src, dst, n);
  }
};

#if defined(__aarch64__)
// AArch64's baseline, ASIMD, converts half precision in hardware (FCVTL, FCVTN: round to nearest
// even), as torch's c10::Half does there; the compiler does not vectorize the casts itself.
[[gnu::always_inline]] inline void load_f16_neon(const Float16* src, float* dst, std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const float16x8_t half = vreinterpretq_f16_u16(vld1q_u16(&src[j].bits));
    vst1q_f32(dst + j, vcvt_f32_f16(vget_low_f16(half)));
    vst1q_f32(dst + j + 4, vcvt_high_f32_f16(half));
  }
  for (; j < n; ++j) {
    dst[j] = Element<Float16>::load(src[j]);
  }
}

[[gnu::always_inline]] inline void store_f16_neon(const float* src, Float16* dst, std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const float16x4_t low = vcvt_f16_f32(vld1q_f32(src + j));
    const float16x8_t half = vcvt_high_f16_f32(low, vld1q_f32(src + j + 4));
    vst1q_u16(&dst[j].bits, vreinterpretq_u16_f16(half));
  }
  for (; j < n; ++j) {
    dst[j] = Element<Float16>::store(src[j]);
  }
}

template <>
struct Convert<Isa::Baseline, Float16> : VectorConvert<load_f16_neon, store_f16_neon, 8> {};
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MYKERNELS_CPU_DISPATCH 1

__attribute__((target("avx2,f16c"))) inline void load_f16c(const Float16* src, float* dst,
                                                           std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j));
    _mm256_storeu_ps(dst + j, _mm256_cvtph_ps(half));
  }
  for (; j < n; ++j) {
    dst[j] = _cvtsh_ss(src[j].bits);
  }
}

// Rounds to nearest even; NaN stays NaN, overflow becomes infinity, as Element<Float16>::store.
__attribute__((target("avx2,f16c"))) inline void store_f16c(const float* src, Float16* dst,
                                                            std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m128i half = _mm256_cvtps_ph(_mm256_loadu_ps(src + j), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j), half);
  }
  for (; j < n; ++j) {
    dst[j] = {_cvtss_sh(src[j], _MM_FROUND_TO_NEAREST_INT)};
  }
}

__attribute__((target("avx2"))) inline void load_bf16_avx2(const BFloat16* src, float* dst,
                                                           std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j));
    const __m256i wide = _mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16);
    _mm256_storeu_ps(dst + j, _mm256_castsi256_ps(wide));
  }
  for (; j < n; ++j) {
    dst[j] = Element<BFloat16>::load(src[j]);
  }
}

// Rounds to nearest even; NaN becomes the quiet NaN 0x7FC0, as Element<BFloat16>::store.
__attribute__((target("avx2"))) inline void store_bf16_avx2(const float* src, BFloat16* dst,
                                                            std::int64_t n) {
  std::int64_t j = 0;
  const __m256i bias = _mm256_set1_epi32(0x7FFF);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i nan = _mm256_set1_epi32(0x7FC0);
  for (; j + 8 <= n; j += 8) {
    const __m256 v = _mm256_loadu_ps(src + j);
    const __m256i u = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias), odd), 16);
    const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256i bits = _mm256_blendv_epi8(rounded, nan, is_nan);
    // Pack the eight 32-bit values (each below 2^16) to 16 bits, in order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(bits, bits), 0b1000);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j), _mm256_castsi256_si128(packed));
  }
  for (; j < n; ++j) {
    dst[j] = Element<BFloat16>::store(src[j]);
  }
}

// With AVX-512, sixteen elements an instruction sequence, the rest of a run as with AVX2.
#define MYKERNELS_TARGET_AVX512 "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"

__attribute__((target(MYKERNELS_TARGET_AVX512))) inline void load_f16_avx512(const Float16* src,
                                                                             float* dst,
                                                                             std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + j));
    _mm512_storeu_ps(dst + j, _mm512_cvtph_ps(half));
  }
  load_f16c(src + j, dst + j, n - j);
}

__attribute__((target(MYKERNELS_TARGET_AVX512))) inline void store_f16_avx512(const float* src,
                                                                              Float16* dst,
                                                                              std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256i half = _mm512_cvtps_ph(_mm512_loadu_ps(src + j), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), half);
  }
  store_f16c(src + j, dst + j, n - j);
}

__attribute__((target(MYKERNELS_TARGET_AVX512))) inline void load_bf16_avx512(const BFloat16* src,
                                                                              float* dst,
                                                                              std::int64_t n) {
  std::int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + j));
    const __m512i wide = _mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16);
    _mm512_storeu_ps(dst + j, _mm512_castsi512_ps(wide));
  }
  load_bf16_avx2(src + j, dst + j, n - j);
}

// The same rounding as store_bf16_avx2.
__attribute__((target(MYKERNELS_TARGET_AVX512))) inline void store_bf16_avx512(const float* src,
                                                                               BFloat16* dst,
                                                                               std::int64_t n) {
  std::int64_t j = 0;
  const __m512i bias = _mm512_set1_epi32(0x7FFF);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i nan = _mm512_set1_epi32(0x7FC0);
  for (; j + 16 <= n; j += 16) {
    const __m512 v = _mm512_loadu_ps(src + j);
    const __m512i u = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), odd), 16);
    const __mmask16 is_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i bits = _mm512_mask_blend_epi32(is_nan, rounded, nan);
    // Each 32-bit value is below 2^16: truncating to 16 bits keeps it.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), _mm512_cvtepi32_epi16(bits));
  }
  store_bf16_avx2(src + j, dst + j, n - j);
}

// With AVX512-BF16, one instruction (VCVTNEPS2BF16) rounds sixteen floats to nearest even, where
// store_bf16_avx512 takes seven. It flushes subnormal floats to zero, which torch's conversion
// does not: the sixteen that hold one are rounded by store_bf16_avx512 instead. A NaN stays a
// quiet NaN, its sign kept.
#define MYKERNELS_TARGET_AVX512_BF16 MYKERNELS_TARGET_AVX512 ",avx512bf16"

__attribute__((target(MYKERNELS_TARGET_AVX512_BF16))) inline void store_bf16_avx512_bf16(
    const float* src, BFloat16* dst, std::int64_t n) {
  constexpr int kDenormal = 0x20;  // VFPCLASSPS's category
  std::int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 v = _mm512_loadu_ps(src + j);
    if (_mm512_fpclass_ps_mask(v, kDenormal) != 0) [[unlikely]] {
      store_bf16_avx512(src + j, dst + j, 16);
      continue;
    }
    const __m256bh rounded = _mm512_cvtneps_pbh(v);
    std::memcpy(dst + j, &rounded, sizeof(rounded));
  }
  store_bf16_avx2(src + j, dst + j, n - j);
}

// Each instruction set converts a vector register at a time; run_row takes four registers' worth a
// step with AVX-512, so that their math interleaves.
template <>
struct Convert<Isa::Avx2, BFloat16> : VectorConvert<load_bf16_avx2, store_bf16_avx2, 8> {};
template <>
struct Convert<Isa::Avx2, Float16> : VectorConvert<load_f16c, store_f16c, 8> {};
template <>
struct Convert<Isa::Avx512, BFloat16> : VectorConvert<load_bf16_avx512, store_bf16_avx512, 64> {};
template <>
struct Convert<Isa::Avx512, Float16> : VectorConvert<load_f16_avx512, store_f16_avx512, 64> {};
template <>
struct Convert<Isa::Avx512Bf16, BFloat16>
    : VectorConvert<load_bf16_avx512, store_bf16_avx512_bf16, 64> {};
template <>
struct Convert<Isa::Avx512Bf16, Float16> : Convert<Isa::Avx512, Float16> {};
#endif

// Elements the engine converts, computes and stores at a time: small enough that the blocks of
// every operand stay in the L1 cache, large enough that the loops over them run at vector speed.
inline constexpr std::int64_t kBlock = 256;

// The n elements of a row that starts at `src` with element stride `stride`, in the compute type:
// `src` itself where it already is that (a dense row of float32 or float64), otherwise `buffer`
// filled with them. A stride of 0 is a broadcast: one element, converted once.
template <Isa kIsa, class S, class C>
const C* load_row(const S* src, std::int64_t stride, C* buffer, std::int64_t n) {
  if (stride == 0) {
    const C value = Element<S>::load(src[0]);
    std::fill(buffer, buffer + n, value);
    return buffer;
  }
  if constexpr (std::is_same_v<S, C>) {
    if (stride == 1) {
      return src;
    }
    for (std::int64_t j = 0; j < n; ++j) {
      buffer[j] = src[j * stride];
    }
  } else if (stride == 1) {
    Convert<kIsa, S>::load(src, buffer, n);
  } else {
    S packed[kBlock];
    for (std::int64_t j = 0; j < n; ++j) {
      packed[j] = src[j * stride];
    }
    Convert<kIsa, S>::load(packed, buffer, n);
  }
  return buffer;
}

// out[j * out_stride] = op(in[0][j * stride[0]], ...) for j in [0, n): the inner loop of every
// call, flat or strided. A dense row (every stride 1) is one loop of load, op and store, which the
// compiler vectorizes; for float16 through F16C, the loop takes eight elements a step. Any other
// row is done in blocks: each input's block is loaded into the compute type (load_row: a broadcast
// converted once, a strided one gathered), the op runs over the blocks as one vectorized loop, and
// the results are converted and stored back.
template <Isa kIsa, class Op, class S>
void run_row(const Op& op, S* out, std::int64_t out_stride, const S* const (&in)[Op::kArity],
             const std::int64_t (&stride)[Op::kArity], std::int64_t n) {
  constexpr int kIn = Op::kArity;
  using E = Element<S>;
  using C = typename E::Compute;
  bool dense = out_stride == 1;
  for (int k = 0; k < kIn; ++k) {
    dense = dense && stride[k] == 1;
  }
  if (dense && Convert<kIsa, S>::kPerElement) {
    // An output overlaps an input only where it is that input, element for element (out=, in
    // place): each element is read before it is written, at its own index.
#pragma GCC ivdep
    for (std::int64_t j = 0; j < n; ++j) {
      C args[kIn];
      for (int k = 0; k < kIn; ++k) {
        args[k] = E::load(in[k][j]);
      }
      out[j] = E::store(apply_op<E::kDType>(op, args, std::make_index_sequence<kIn>{}));
    }
    return;
  }
  std::int64_t done = 0;
  if constexpr (!Convert<kIsa, S>::kPerElement) {
    // A vector of elements a step: the conversions of a fixed count and the op's loop over them
    // compile to vector instructions on registers (separate passes over blocks cost 2-3x on add).
    constexpr std::int64_t kLanes = Convert<kIsa, S>::kLanes;
    if (dense) {
      for (; done + kLanes <= n; done += kLanes) {
        C lanes[kIn][kLanes];
        for (int k = 0; k < kIn; ++k) {
          Convert<kIsa, S>::load(in[k] + done, lanes[k], kLanes);
        }
        C results[kLanes];
        for (std::int64_t j = 0; j < kLanes; ++j) {
          C args[kIn];
          for (int k = 0; k < kIn; ++k) {
            args[k] = lanes[k][j];
          }
          results[j] = apply_op<E::kDType>(op, args, std::make_index_sequence<kIn>{});
        }
        Convert<kIsa, S>::store(results, out + done, kLanes);
      }
    }
  }
  constexpr bool kDirect = std::is_same_v<S, C>;
  alignas(64) C buffers[kIn][kBlock];
  alignas(64) C results[kBlock];
  for (std::int64_t b = done; b < n; b += kBlock) {
    const std::int64_t m = std::min(kBlock, n - b);
    const C* args[kIn];
    for (int k = 0; k < kIn; ++k) {
      args[k] = load_row<kIsa>(in[k] + b * stride[k], stride[k], buffers[k], m);
    }
    // A dense float32 or float64 output is written in place.
    C* dst = kDirect && out_stride == 1 ? reinterpret_cast<C*>(out + b) : results;
#pragma GCC ivdep
    for (std::int64_t j = 0; j < m; ++j) {
      C block_args[kIn];
      for (int k = 0; k < kIn; ++k) {
        block_args[k] = args[k][j];
      }
      dst[j] = apply_op<E::kDType>(op, block_args, std::make_index_sequence<kIn>{});
    }
    if (dst != results) {
      continue;
    }
    S* out_block = out + b * out_stride;
    if constexpr (kDirect) {
      for (std::int64_t j = 0; j < m; ++j) {
        out_block[j * out_stride] = results[j];
      }
    } else if (out_stride == 1) {
      Convert<kIsa, S>::store(results, out_block, m);
    } else {
      S packed[kBlock];
      Convert<kIsa, S>::store(results, packed, m);
      for (std::int64_t j = 0; j < m; ++j) {
        out_block[j * out_stride] = packed[j];
      }
    }
  }
}

template <Isa kIsa, class Op, class S>
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
    const S* row[kIn];
    std::int64_t ones[kIn];
    for (int k = 0; k < kIn; ++k) {
      row[k] = in[k] + begin;
      ones[k] = 1;
    }
    run_row<kIsa>(op, out + begin, 1, row, ones, end - begin);
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
  std::int64_t inner_stride[kIn];
  for (int k = 0; k < kIn; ++k) {
    inner_stride[k] = layout.strides[k + 1][0];
  }
  const std::int64_t inner_size = layout.sizes[0];
  for (std::int64_t i = begin; i < end;) {
    const std::int64_t run = std::min(inner_size - index[0], end - i);
    const S* row[kIn];
    for (int k = 0; k < kIn; ++k) {
      row[k] = in[k] + offset[k + 1];
    }
    run_row<kIsa>(op, out + offset[0], layout.strides[0][0], row, inner_stride, run);
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
#ifdef MYKERNELS_CPU_DISPATCH
template <class Op, class S>
__attribute__((target(MYKERNELS_TARGET_AVX512),
               flatten)) void run_avx512(const Op& op, const Layout<Op::kArity + 1>& layout,
                                         const std::array<void*, Op::kArity + 1>& ptrs,
                                         std::int64_t begin, std::int64_t end) {
  run_typed<Isa::Avx512, Op, S>(op, layout, ptrs, begin, end);
}

template <class Op, class S>
__attribute__((target(MYKERNELS_TARGET_AVX512_BF16), flatten)) void run_avx512_bf16(
    const Op& op, const Layout<Op::kArity + 1>& layout,
    const std::array<void*, Op::kArity + 1>& ptrs, std::int64_t begin, std::int64_t end) {
  run_typed<Isa::Avx512Bf16, Op, S>(op, layout, ptrs, begin, end);
}

template <class Op, class S>
__attribute__((target("avx2,fma,f16c"), flatten)) void run_avx2(
    const Op& op, const Layout<Op::kArity + 1>& layout,
    const std::array<void*, Op::kArity + 1>& ptrs, std::int64_t begin, std::int64_t end) {
  run_typed<Isa::Avx2, Op, S>(op, layout, ptrs, begin, end);
}

// The best extension set this CPU has, capped by MYKERNELS_CPU_CAPABILITY (default, avx2, avx512
// or avx512_bf16), which lets tests run the other versions on one machine.
Isa detect_isa() {
  __builtin_cpu_init();
  Isa isa = Isa::Baseline;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    isa = Isa::Avx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
      isa = Isa::Avx512;
      if (__builtin_cpu_supports("avx512bf16")) {
        isa = Isa::Avx512Bf16;
      }
    }
  }
  // avx512_bf16 (or nothing) leaves the best; mykernels' __init__.py warns about any other value.
  const char* cap = std::getenv("MYKERNELS_CPU_CAPABILITY");
  if (cap != nullptr && std::strcmp(cap, "default") == 0) {
    isa = Isa::Baseline;
  } else if (cap != nullptr && std::strcmp(cap, "avx2") == 0) {
    isa = std::min(isa, Isa::Avx2);
  } else if (cap != nullptr && std::strcmp(cap, "avx512") == 0) {
    isa = std::min(isa, Isa::Avx512);
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
  if (isa == Isa::Avx512Bf16) {
    return run_avx512_bf16<Op, S>(op, layout, ptrs, begin, end);
  }
  if (isa == Isa::Avx512) {
    return run_avx512<Op, S>(op, layout, ptrs, begin, end);
  }
  if (isa == Isa::Avx2) {
    return run_avx2<Op, S>(op, layout, ptrs, begin, end);
  }
#endif
  run_typed<Isa::Baseline, Op, S>(op, layout, ptrs, begin, end);
}

}  // namespace detail

const char* capability() {
#ifdef MYKERNELS_CPU_DISPATCH
  switch (detail::selected_isa()) {
    case detail::Isa::Avx512Bf16:
      return "avx512_bf16";
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
