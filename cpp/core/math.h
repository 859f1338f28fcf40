// Math helpers of the ops (cpp/core/ops.h) whose best form differs between the CPU and the GPU.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "cpp/core/host_device.h"
#include "cpp/core/layout.h"

namespace mykernels {
namespace detail {

// exp(x) for x <= 0, and NaN for NaN, computed to the precision of the dtype its caller's result is
// stored in, kStored (cpp/core/ops.h): a float32 result needs the exponential to float32's last
// bit, a 16-bit one to far less, and the cheaper forms keep d_sigmoid's 16-bit kernels as fast as
// the hardware allows (BENCHMARKS.md).
//
// On the GPU, for float32 results, the CUDA math library's expf. For float16 and bfloat16 results
// the GPU's special-function unit computes 2^(x log2 e) (ex2.approx, within 2 ulp of float32; with
// the rounding of its argument, under 3e-6 relative wherever the result is large enough to show in
// the dtype), far below their rounding (2^-8 and 2^-11 relative): two or three instructions where
// expf's range reduction is eight. The unit flushes results below 2^-126 to zero, which bfloat16
// keeps as subnormals: so for bfloat16 the exponent is shifted by 64, one fused multiply-add, and
// the result scaled back by 2^-64 (exact, but for a subnormal result, rounded once). float16, whose
// smallest subnormal is 2^-24, loses nothing to the flush and does without the shift.
//
// On the CPU, a branch-free Cephes-style evaluation that the compiler vectorizes, where std::exp
// stays a scalar library call (the CPU kernel library is compiled with -fno-trapping-math so that
// the clamp below vectorizes too): x = n ln 2 + r with |r| <= ln 2 / 2, exp(r) by a polynomial,
// and the scaling by 2^n. For float32 results, ln 2 in two parts and a degree-7 polynomial: within
// 1 ulp of exp over [-110, 0], denormal results included. For 16-bit results, ln 2 as one float
// and a degree-5 minimax polynomial, two fused multiply-adds and an add fewer: within 1.1e-6
// relative of exp where the compiler fuses n * ln 2 into a multiply-add (AVX2, AVX-512, AArch64),
// within 5e-6 where it cannot (x86-64's baseline), far below the 16-bit roundings (2^-9 and 2^-12
// relative at best): every float16 and bfloat16 input of d_sigmoid gives the rounding of a float
// within 2e-6 of its exact value (tests/test_d_sigmoid.py). float16, like the GPU's, does without
// the scaling that keeps float32's subnormal results.
#if defined(__CUDA_ARCH__)
__device__ inline float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
#endif

template <DType kStored>
MYKERNELS_HOST_DEVICE inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
#if defined(__CUDA_ARCH__)
  if constexpr (kStored == DType::Float16) {
    return exp2_approx(x * kLog2e);
  } else if constexpr (kStored == DType::BFloat16) {
    return exp2_approx(fmaf(x, kLog2e, 64.0f)) * 0x1p-64f;
  } else {
    return ::expf(x);
  }
#else
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  // Where float16 holds nothing below 2^-24, the clamp keeps the result a normal float.
  constexpr bool kNormal = kStored == DType::Float16;
  // exp(-104) rounds to 0 already, and exp(-87) is over 2^-126; NaN stays NaN.
  x = std::max(x, kNormal ? -87.0f : -104.0f);
  const float shifted = x * kLog2e + kRound;
  const float n = shifted - kRound;  // x / ln 2, rounded
  float p;                           // exp(r)
  if constexpr (kStored == DType::Float16 || kStored == DType::BFloat16) {
    const float r = x - n * 0.693147182f;
    p = 8.45404621e-3f;
    p = p * r + 4.18045446e-2f;
    p = p * r + 1.66661099e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
  } else {
    constexpr float kLn2Hi = 0.693359375f;  // ln 2 in two parts: n * kLn2Hi is exact
    constexpr float kLn2Lo = -2.12194440e-4f;
    const float r = (x - n * kLn2Hi) - n * kLn2Lo;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
  }
  // exp(r) * 2^n: scaled by 2^(n + 64) first, a normal power of two for every n the clamp allows
  // (n >= -150), which is exact, then by 2^-64, the one rounding, which a result in the denormal
  // range needs; for float16 (n >= -126) by 2^n at once. n + 64 + 127 is the low bits of
  // `shifted` (which holds n + 1.5 * 2^23) less those of kRound, plus 191: one integer add and a
  // shift.
  constexpr std::int32_t kShift = kNormal ? 0 : 64;
  constexpr std::int32_t kBias = kShift + 127 - std::bit_cast<std::int32_t>(kRound);
  const float scale = std::bit_cast<float>((std::bit_cast<std::int32_t>(shifted) + kBias) << 23);
  return kNormal ? p * scale : p * scale * 0x1p-64f;
#endif
}

template <DType kStored>
MYKERNELS_HOST_DEVICE inline double exp_nonpositive(double x) {
  using std::exp;
  return exp(x);
}

// a / b for b in [1, 4]. On the GPU, for float, a reciprocal and a multiply (within 2 ulp) rather
// than the IEEE division, which is several times the instructions: d_sigmoid in 16-bit dtypes is
// limited by its arithmetic on the GPU, not by memory (BENCHMARKS.md). Elsewhere the division.
MYKERNELS_HOST_DEVICE inline float quotient(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdividef(a, b);
#else
  return a / b;
#endif
}

MYKERNELS_HOST_DEVICE inline double quotient(double a, double b) { return a / b; }

}  // namespace detail

}  // namespace mykernels
