// The mykernels operators: schemas, argument checks, output allocation and the CPU and CUDA
// registrations. Autograd and the fake (meta) kernels are registered from Python
// (python/mykernels/ops.py); the math lives in the kernel libraries.
#include <ATen/EmptyTensor.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/result_type.h>
#include <c10/core/Allocator.h>
#include <c10/core/DefaultDtype.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/ScalarType.h>
#include <c10/core/TensorOptions.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>

#include "elementwise.h"
#include "ops.h"

namespace mykernels {
namespace {

bool is_supported(c10::ScalarType type) {
  return type == c10::ScalarType::Float || type == c10::ScalarType::Double ||
         type == c10::ScalarType::Half || type == c10::ScalarType::BFloat16;
}

void check_dtype(const char* op_name, c10::ScalarType type) {
  TORCH_CHECK(is_supported(type), "mykernels.", op_name,
              ": expected a tensor of dtype float32, float64, float16 or bfloat16, got torch.",
              c10::getDtypeNames(type).first);
}

// True when `t` has exactly the strides at::empty gives its shape (is_contiguous() also accepts
// any stride on a dimension of size 1, which at::empty_like would keep).
bool has_default_strides(const at::Tensor& t) {
  std::int64_t expected = 1;
  for (std::int64_t d = t.dim() - 1; d >= 0; --d) {
    if (t.stride(d) != expected) {
      return false;
    }
    expected *= std::max<std::int64_t>(t.size(d), 1);
  }
  return true;
}

// The result of an op on `like`: a new tensor of its shape and device, of dtype `type`, with its
// strides where it is dense (as at::empty_like). A `like` with default strides gets its tensor
// straight from the device's allocator, without the two dispatcher calls of at::empty_like: for a
// small tensor, those are a good part of the op's time. The allocator allocates on the current
// device: the op's device guard has made it like's.
at::Tensor empty_result(const at::Tensor& like, c10::ScalarType type) {
  if (!has_default_strides(like)) {
    return at::empty_like(like, like.options().dtype(type));
  }
  return at::detail::empty_generic(
      like.sizes(), c10::GetAllocator(like.device().type()),
      c10::DispatchKeySet(c10::computeDispatchKey(type, c10::kStrided, like.device())), type,
      c10::MemoryFormat::Contiguous);
}

// `t` as an input of the engines: of dtype `type` and expanded to `shape` (a view), each step
// taken only where needed, since each is a dispatcher call.
at::Tensor as_operand(const at::Tensor& t, c10::ScalarType type, c10::IntArrayRef shape) {
  at::Tensor result = t.scalar_type() == type ? t : t.to(type);
  return result.sizes() == shape ? result : result.expand(shape);
}

// The shape a and b broadcast to, as torch.broadcast_shapes computes it.
c10::DimVector broadcast_shape(const at::Tensor& a, const at::Tensor& b) {
  const int64_t ndim = std::max(a.dim(), b.dim());
  c10::DimVector shape(ndim);
  for (int64_t d = ndim - 1, da = a.dim() - 1, db = b.dim() - 1; d >= 0; --d, --da, --db) {
    const int64_t size_a = da >= 0 ? a.size(da) : 1;
    const int64_t size_b = db >= 0 ? b.size(db) : 1;
    TORCH_CHECK(size_a == size_b || size_a == 1 || size_b == 1, "mykernels.add: a of shape ",
                a.sizes(), " and b of shape ", b.sizes(), " do not broadcast: sizes ", size_a,
                " and ", size_b, " differ at dimension ", d, " of the result and neither is 1");
    shape[d] = size_a == 1 ? size_b : size_a;
  }
  return shape;
}

}  // namespace

// Each op holds a device guard for its inputs' device from the allocation of its result to the
// launch of its kernel (elementwise.h).

at::Tensor square(const at::Tensor& x) {
  check_dtype("square", x.scalar_type());
  const c10::DeviceGuard guard(x.device());
  at::Tensor out = empty_result(x, x.scalar_type());
  run_elementwise("square", Square{}, out, {x});
  return out;
}

at::Tensor d_sigmoid(const at::Tensor& z) {
  // Integer and bool inputs are promoted like torch.sigmoid: to the default float dtype.
  c10::ScalarType type = z.scalar_type();
  if (c10::isIntegralType(type, /*includeBool=*/true)) {
    type = c10::get_default_dtype_as_scalartype();
  }
  check_dtype("d_sigmoid", type);
  const c10::DeviceGuard guard(z.device());
  at::Tensor out = empty_result(z, type);
  run_elementwise("d_sigmoid", DSigmoid{}, out, {as_operand(z, type, z.sizes())});
  return out;
}

at::Tensor add(const at::Tensor& a, const at::Tensor& b, const c10::Scalar& alpha) {
  TORCH_CHECK(a.device() == b.device(), "mykernels.add: expected a and b on the same device, got ",
              a.device(), " and ", b.device());
  const c10::DeviceGuard guard(a.device());
  // Tensors of one dtype promote to it: no dispatcher call on the common path.
  const c10::ScalarType type =
      a.scalar_type() == b.scalar_type() ? a.scalar_type() : at::result_type(a, b);
  check_dtype("add", type);
  TORCH_CHECK(!alpha.isComplex() && !alpha.isBoolean(),
              "mykernels.add: alpha must be a real number, got ", alpha);
  const c10::DimVector shape = broadcast_shape(a, b);
  // The output takes a's layout when a already has the result's shape, else it is contiguous.
  at::Tensor out = a.sizes() == c10::IntArrayRef(shape) ? empty_result(a, type)
                                                        : at::empty(shape, a.options().dtype(type));
  run_elementwise("add", Add{alpha.toDouble()}, out,
                  {as_operand(a, type, shape), as_operand(b, type, shape)});
  return out;
}

TORCH_LIBRARY(mykernels, m) {
  m.def("square(Tensor x) -> Tensor");
  m.def("add(Tensor a, Tensor b, *, Scalar alpha=1) -> Tensor");
  m.def("d_sigmoid(Tensor z) -> Tensor");
}

// One implementation per op serves both devices: run_elementwise picks the engine. A build without
// CUDA registers the CUDA key too, so that CUDA tensors get a message saying how to rebuild.
TORCH_LIBRARY_IMPL(mykernels, CPU, m) {
  m.impl("square", &square);
  m.impl("add", &add);
  m.impl("d_sigmoid", &d_sigmoid);
}

TORCH_LIBRARY_IMPL(mykernels, CUDA, m) {
  m.impl("square", &square);
  m.impl("add", &add);
  m.impl("d_sigmoid", &d_sigmoid);
}

}  // namespace mykernels
