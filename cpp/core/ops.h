// The op table: every mykernels op, described once, in torch-free C++ that both engines compile.
//
// An op is a struct with
//   kName       its name: mykernels.<kName> in Python, torch.ops.mykernels.<kName> as an operator
//   kSchema     its torch schema. Tensor arguments come first, then float arguments, which are the
//               struct's members (doubles) in the same order (the stable ABI has no Scalar); one
//               Tensor result. The binding checks the schema against kName, kArity and the
//               number of members (cpp/operators/signature.h); their order is yours to keep.
//   kArity      the number of tensor inputs; they broadcast against each other, like torch's
//   kPromotion  how the result's dtype follows from the inputs' dtypes (Promotion below)
//   operator()  the math, on the inputs in the compute type (float for float32, float16 and
//               bfloat16 tensors, double for float64 tensors), returning the result in that type;
//               the engines do the loads, the conversions and the stores. An op whose math can be
//               cheaper where its result is stored in less precision than the compute type's
//               takes the stored dtype as a second template parameter, `DType kStored`, after T
//               (DSigmoid below); the engines pass it to the ops that take it (apply_op).
// and one line in MYKERNELS_FOR_EACH_OP. Everything else is generated from this table: the
// operators' schemas and their CPU and CUDA registrations, the eager fast path, every engine's
// dtype dispatch and instantiations (cpp/operators, cpp/binding, cpp/cpu, cuda/), and in Python the
// fake kernels and the list of ops (python/mykernels/ops.py, which holds the public functions and
// the autograd formulas). docs/adding-an-op.md walks through adding one.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "cpp/core/host_device.h"
#include "cpp/core/layout.h"
#include "cpp/core/math.h"

namespace mykernels {

// How an op's result dtype follows from its inputs'. The result dtype must be float32, float64,
// float16 or bfloat16; the inputs are converted to it before the kernel runs.
enum class Promotion : std::int8_t {
  // torch.result_type of the inputs (a 0-dim tensor counts only where its category is higher),
  // like torch.add and torch.square.
  kCommon,
  // The same, then an integer or bool dtype becomes torch's default float dtype, like
  // torch.sigmoid.
  kIntegerToFloat,
};

// The dtype a result computed in T has when it is stored as T: an op's default kStored.
template <class T>
inline constexpr DType kDTypeOf = sizeof(T) == 8 ? DType::Float64 : DType::Float32;

// op(args...) for a result that is stored as kStored: op.operator()<C, kStored> where the op takes
// the stored dtype, otherwise op(args...). Every engine calls its ops through this.
template <DType kStored, class Op, class C, std::size_t... I>
MYKERNELS_HOST_DEVICE C apply_op(const Op& op, const C (&args)[sizeof...(I)],
                                 std::index_sequence<I...>) {
  if constexpr (requires { op.template operator()<C, kStored>(args[I]...); }) {
    return op.template operator()<C, kStored>(args[I]...);
  } else {
    return op(args[I]...);
  }
}

// square(input) = input * input
struct Square {
  static constexpr const char* kName = "square";
  static constexpr const char* kSchema = "square(Tensor input) -> Tensor";
  static constexpr int kArity = 1;
  static constexpr Promotion kPromotion = Promotion::kCommon;

  template <class T>
  MYKERNELS_HOST_DEVICE T operator()(T x) const {
    return x * x;
  }
};

// add(input, other, alpha) = input + alpha * other
struct Add {
  static constexpr const char* kName = "add";
  static constexpr const char* kSchema =
      "add(Tensor input, Tensor other, *, float alpha=1) -> Tensor";
  static constexpr int kArity = 2;
  static constexpr Promotion kPromotion = Promotion::kCommon;
  double alpha;

  template <class T>
  MYKERNELS_HOST_DEVICE T operator()(T a, T b) const {
    return a + static_cast<T>(alpha) * b;
  }
};

// d_sigmoid(input) = s * (1 - s) with s = sigmoid(input), written as t / (1 + t)^2 with
// t = exp(-|input|).
// t lies in [0, 1], so nothing overflows or cancels: the result is finite and in [0, 0.25] for
// every z (0 at +-inf), exactly 0.25 at z = 0, and NaN for NaN.
struct DSigmoid {
  static constexpr const char* kName = "d_sigmoid";
  static constexpr const char* kSchema = "d_sigmoid(Tensor input) -> Tensor";
  static constexpr int kArity = 1;
  static constexpr Promotion kPromotion = Promotion::kIntegerToFloat;

  template <class T, DType kStored = kDTypeOf<T>>
  MYKERNELS_HOST_DEVICE T operator()(T z) const {
    using std::abs;
    const T t = detail::exp_nonpositive<kStored>(-abs(z));
    const T one_plus_t = T(1) + t;
    const T result = detail::quotient(t, one_plus_t * one_plus_t);
    // Near z = 0 the rounding can put the quotient an ulp or two above 0.25, which the exact value
    // never exceeds. (A NaN compares false and stays NaN.)
    return result > T(0.25) ? T(0.25) : result;
  }
};

// Every op. X(Op) is expanded once per op wherever the table is used.
#define MYKERNELS_FOR_EACH_OP(X) \
  X(Square)                      \
  X(Add)                         \
  X(DSigmoid)

}  // namespace mykernels
