// The math of each op, written once for the CPU and the CUDA kernels.
//
// A functor receives its inputs in the compute type (float for float32, float16 and bfloat16
// tensors, double for float64 tensors) and returns the result in that type; the engines do the
// loads, the conversions and the stores. Adding an elementwise op means adding one functor here and
// one line to MYKERNELS_FOR_EACH_OP.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MYKERNELS_HOST_DEVICE __host__ __device__
#else
#define MYKERNELS_HOST_DEVICE
#endif

namespace mykernels {
namespace detail {

// exp(x) for x <= 0, and NaN for NaN. On the GPU the CUDA math library's. On the CPU, for float, a
// branch-free Cephes-style evaluation (within 1 ulp of exp over [-110, 0], denormal results
// included) that the compiler vectorizes, where std::exp stays a scalar library call; the CPU
// kernel library is compiled with -fno-trapping-math so that the clamp below vectorizes too.
MYKERNELS_HOST_DEVICE inline float exp_nonpositive(float x) {
#if defined(__CUDA_ARCH__)
  return ::expf(x);
#else
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // ln 2 in two parts: n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  x = std::max(x, -104.0f);              // exp(-104) rounds to 0 already; NaN stays NaN
  const float shifted = x * kLog2e + kRound;
  const float n = shifted - kRound;               // x / ln 2, rounded
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;  // in [-ln2 / 2, ln2 / 2]
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;  // exp(r)
  // 2^n as two normal factors, so that results in the denormal range round correctly.
  const std::int32_t ni =
      std::bit_cast<std::int32_t>(shifted) - std::bit_cast<std::int32_t>(kRound);
  const std::int32_t half = ni >> 1;
  const float scale1 = std::bit_cast<float>((half + 127) << 23);
  const float scale2 = std::bit_cast<float>((ni - half + 127) << 23);
  return p * scale1 * scale2;
#endif
}

MYKERNELS_HOST_DEVICE inline double exp_nonpositive(double x) {
  using std::exp;
  return exp(x);
}

// a / b for b in [1, 4]. On the GPU, for float, a reciprocal and a multiply (within 2 ulp) rather
// than the IEEE division, which is several times the instructions: d_sigmoid in 16-bit dtypes is
// limited by its arithmetic on an H200, not by memory (BENCHMARKS.md). Elsewhere the division.
MYKERNELS_HOST_DEVICE inline float quotient(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdividef(a, b);
#else
  return a / b;
#endif
}

MYKERNELS_HOST_DEVICE inline double quotient(double a, double b) { return a / b; }

}  // namespace detail

// square(x) = x * x
struct Square {
  static constexpr int kArity = 1;

  template <class T>
  MYKERNELS_HOST_DEVICE T operator()(T x) const {
    return x * x;
  }
};

// add(a, b, alpha) = a + alpha * b
struct Add {
  static constexpr int kArity = 2;
  double alpha;

  template <class T>
  MYKERNELS_HOST_DEVICE T operator()(T a, T b) const {
    return a + static_cast<T>(alpha) * b;
  }
};

// d_sigmoid(z) = s * (1 - s) with s = sigmoid(z), written as t / (1 + t)^2 with t = exp(-|z|).
// t lies in [0, 1], so nothing overflows or cancels: the result is finite and in [0, 0.25] for
// every z (0 at +-inf), exactly 0.25 at z = 0, and NaN for NaN.
struct DSigmoid {
  static constexpr int kArity = 1;

  template <class T>
  MYKERNELS_HOST_DEVICE T operator()(T z) const {
    using std::abs;
    const T t = detail::exp_nonpositive(-abs(z));
    const T one_plus_t = T(1) + t;
    const T result = detail::quotient(t, one_plus_t * one_plus_t);
    // Near z = 0 the rounding can put the quotient an ulp or two above 0.25, which the exact value
    // never exceeds. (A NaN compares false and stays NaN.)
    return result > T(0.25) ? T(0.25) : result;
  }
};

// Every op, for explicit instantiation of the engines.
#define MYKERNELS_FOR_EACH_OP(X) \
  X(Square)                      \
  X(Add)                         \
  X(DSigmoid)

}  // namespace mykernels
