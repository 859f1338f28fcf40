// The math of each op, written once for the CPU and the CUDA kernels.
//
// A functor receives its inputs in the compute type (float for float32, float16 and bfloat16
// tensors, double for float64 tensors) and returns the result in that type; the engines do the
// loads, the conversions and the stores. Adding an elementwise op means adding one functor here and
// one line to MYKERNELS_FOR_EACH_OP.
#pragma once

#include <cmath>

#include "cpp/core/host_device.h"
#include "cpp/core/math.h"

namespace mykernels {

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
