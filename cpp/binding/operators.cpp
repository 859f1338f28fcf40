// The mykernels operators on the LibTorch stable ABI: schemas, argument checks, promotion, output
// allocation and the CPU and CUDA registrations. Autograd and the fake (meta) kernels are
// registered from Python (python/mykernels/ops.py); the math lives in the kernel libraries.
//
// What the stable ABI does not offer is asked of the dispatcher (aten::result_type, the default
// dtype through aten::empty) or done in the engines' own layout: broadcasting is stride 0, and the
// output's strides follow torch.empty_like's rule, computed here.
#include "operators.h"

#include <torch/csrc/stable/library.h>
#include <torch/csrc/stable/ops.h>

#include <algorithm>
#include <array>
#include <numeric>

#include "check.h"

namespace mykernels {
namespace {

constexpr int kMaxDims = 64;  // torch's limit
using DimArray = std::array<std::int64_t, kMaxDims>;

const char* dtype_name(ScalarType type) {
  switch (type) {
    case ScalarType::Float:
      return "float32";
    case ScalarType::Double:
      return "float64";
    case ScalarType::Half:
      return "float16";
    case ScalarType::BFloat16:
      return "bfloat16";
    case ScalarType::ComplexHalf:
      return "complex32";
    case ScalarType::ComplexFloat:
      return "complex64";
    case ScalarType::ComplexDouble:
      return "complex128";
    case ScalarType::Bool:
      return "bool";
    case ScalarType::Byte:
      return "uint8";
    case ScalarType::Char:
      return "int8";
    case ScalarType::Short:
      return "int16";
    case ScalarType::Int:
      return "int32";
    case ScalarType::Long:
      return "int64";
    default:
      return torch::headeronly::toString(type);
  }
}

bool is_integral_or_bool(ScalarType type) {
  switch (type) {
    case ScalarType::Bool:
    case ScalarType::Byte:
    case ScalarType::Char:
    case ScalarType::Short:
    case ScalarType::Int:
    case ScalarType::Long:
    case ScalarType::UInt16:
    case ScalarType::UInt32:
    case ScalarType::UInt64:
      return true;
    default:
      return false;
  }
}

// The dtypes the kernels take: torch's, the engines' and the stable C shim's names of each.
struct Supported {
  ScalarType type;
  DType dtype;
  std::int32_t (*aoti)();
};
constexpr std::array<Supported, 4> kSupported{{
    {ScalarType::Float, DType::Float32, aoti_torch_dtype_float32},
    {ScalarType::Double, DType::Float64, aoti_torch_dtype_float64},
    {ScalarType::Half, DType::Float16, aoti_torch_dtype_float16},
    {ScalarType::BFloat16, DType::BFloat16, aoti_torch_dtype_bfloat16},
}};

// The entry of `type`, or nullptr when the kernels do not take it.
const Supported* supported(ScalarType type) {
  for (const Supported& entry : kSupported) {
    if (entry.type == type) {
      return &entry;
    }
  }
  return nullptr;
}

// The entry of `type`; a user error naming the op when the kernels do not take it.
const Supported& check_dtype(const char* op_name, ScalarType type) {
  const Supported* entry = supported(type);
  MYKERNELS_CHECK(entry != nullptr, "mykernels.", op_name,
                  ": expected a tensor of dtype float32, float64, float16 or bfloat16, got torch.",
                  dtype_name(type));
  return *entry;
}

// torch's is_non_overlapping_and_dense: the elements fill one block of memory exactly once.
bool is_dense(int ndim, const std::int64_t* sizes, const std::int64_t* strides) {
  std::array<int, kMaxDims> perm;
  std::iota(perm.begin(), perm.begin() + ndim, 0);
  // By stride, dimensions of size 0 and 1 last.
  std::sort(perm.begin(), perm.begin() + ndim, [&](int a, int b) {
    if (sizes[a] < 2) {
      return false;
    }
    return sizes[b] < 2 || strides[a] < strides[b];
  });
  std::int64_t expected = 1;
  for (int i = 0; i < ndim; ++i) {
    if (sizes[perm[i]] < 2) {
      return true;
    }
    if (strides[perm[i]] != expected) {
      return false;
    }
    expected *= sizes[perm[i]];
  }
  return true;
}

// torch.empty_like's strides (memory_format=torch.preserve_format): a dense input's own strides,
// else dense strides in the order of the input's (torch's infer_dense_strides).
void empty_like_strides(const View& like, std::int64_t* out) {
  const int ndim = like.ndim;
  if (is_dense(ndim, like.sizes, like.strides)) {
    std::copy_n(like.strides, ndim, out);
    return;
  }
  // Dimensions innermost first, then a stable insertion sort by stride, leaving stride-0
  // dimensions where they are and ordering equal strides by size.
  std::array<int, kMaxDims> perm;
  for (int i = 0; i < ndim; ++i) {
    perm[i] = ndim - 1 - i;
  }
  const auto should_swap = [&](int d0, int d1) {
    const std::int64_t s0 = like.strides[d0];
    const std::int64_t s1 = like.strides[d1];
    if (s0 == 0 || s1 == 0) {
      return 0;
    }
    if (s0 != s1) {
      return s0 < s1 ? -1 : 1;
    }
    return like.sizes[d0] > like.sizes[d1] ? 1 : 0;
  };
  for (int i = 1; i < ndim; ++i) {
    int d1 = i;
    for (int d0 = i - 1; d0 >= 0; --d0) {
      const int order = should_swap(perm[d0], perm[d1]);
      if (order > 0) {
        std::swap(perm[d0], perm[d1]);
        d1 = d0;
      } else if (order < 0) {
        break;
      }
    }
  }
  std::int64_t stride = 1;
  for (int i = 0; i < ndim; ++i) {
    out[perm[i]] = stride;
    stride *= std::max<std::int64_t>(like.sizes[perm[i]], 1);
  }
}

void contiguous_strides(int ndim, const std::int64_t* sizes, std::int64_t* out) {
  std::int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    out[d] = stride;
    stride *= std::max<std::int64_t>(sizes[d], 1);
  }
}

Tensor empty_strided(int ndim, const std::int64_t* sizes, const std::int64_t* strides,
                     ScalarType type, Device device) {
  AtenTensorHandle handle = nullptr;
  const bool cpu = device.kind == DeviceKind::CPU;
  MYKERNELS_CHECK(
      aoti_torch_empty_strided(ndim, sizes, strides, supported(type)->aoti(),
                               cpu ? aoti_torch_device_type_cpu() : aoti_torch_device_type_cuda(),
                               cpu ? 0 : device.index, &handle) == AOTI_TORCH_SUCCESS,
      "mykernels: could not allocate a result of shape ", Sizes{sizes, ndim}, " on ", device, ": ",
      last_torch_error());
  return Tensor(handle);
}

// The result of an op on `like`: its shape and device, as torch.empty_like(like) allocates it.
Tensor empty_like(const View& like) {
  DimArray strides;
  empty_like_strides(like, strides.data());
  return empty_strided(like.ndim, like.sizes, strides.data(), like.dtype, like.device);
}

Operand operand(const Tensor& t) { return {t.mutable_data_ptr(), t.strides().data()}; }

Operand operand(const View& v) { return {v.data, v.strides}; }

}  // namespace

View view_of(const Tensor& t) {
  return {
      t.mutable_data_ptr(), static_cast<int>(t.dim()),
      t.sizes().data(),     t.strides().data(),
      t.scalar_type(),      t.is_cpu() ? Device{} : Device{DeviceKind::CUDA, t.get_device_index()}};
}

namespace {

template <class Op>
Tensor unary(const char* op_name, const View& x) {
  const DType dtype = check_dtype(op_name, x.dtype).dtype;
  Tensor out = empty_like(x);
  run_elementwise(op_name, Op{}, dtype, x.device, x.ndim, x.sizes, {operand(out), operand(x)});
  return out;
}

}  // namespace

Tensor square(const View& x) { return unary<Square>("square", x); }

Tensor d_sigmoid(const View& z) { return unary<DSigmoid>("d_sigmoid", z); }

Tensor add(const View& a, const View& b, double alpha) {
  MYKERNELS_CHECK(a.dtype == b.dtype && a.device == b.device,
                  "mykernels.add: internal error: inputs of two dtypes or devices");
  const DType dtype = check_dtype("add", a.dtype).dtype;
  // The broadcast shape, and each input's strides over it (0 where it is broadcast).
  const int ndim = std::max(a.ndim, b.ndim);
  DimArray shape;
  DimArray strides_a;
  DimArray strides_b;
  for (int d = ndim - 1, da = a.ndim - 1, db = b.ndim - 1; d >= 0; --d, --da, --db) {
    const std::int64_t size_a = da >= 0 ? a.sizes[da] : 1;
    const std::int64_t size_b = db >= 0 ? b.sizes[db] : 1;
    MYKERNELS_CHECK(size_a == size_b || size_a == 1 || size_b == 1, "mykernels.add: a of shape ",
                    Sizes{a.sizes, a.ndim}, " and b of shape ", Sizes{b.sizes, b.ndim},
                    " do not broadcast: sizes ", size_a, " and ", size_b, " differ at dimension ",
                    d, " of the result and neither is 1");
    shape[d] = size_a == 1 ? size_b : size_a;
    strides_a[d] = size_a == shape[d] ? a.strides[da] : 0;
    strides_b[d] = size_b == shape[d] ? b.strides[db] : 0;
  }
  // The output takes a's layout when a already has the result's shape, else it is contiguous.
  const Tensor out = [&] {
    if (a.ndim == ndim && std::equal(a.sizes, a.sizes + ndim, shape.begin())) {
      return empty_like(a);
    }
    DimArray strides;
    contiguous_strides(ndim, shape.data(), strides.data());
    return empty_strided(ndim, shape.data(), strides.data(), a.dtype, a.device);
  }();
  run_elementwise(
      "add", Add{alpha}, dtype, a.device, ndim, shape.data(),
      {operand(out), Operand{a.data, strides_a.data()}, Operand{b.data, strides_b.data()}});
  return out;
}

namespace {

// The operators: promotion, then the ops above.

ScalarType result_type(const Tensor& a, const Tensor& b) {
  std::array<StableIValue, 2> stack{torch::stable::detail::from(a), torch::stable::detail::from(b)};
  MYKERNELS_CHECK(torch_call_dispatcher("aten::result_type", "Tensor", stack.data(),
                                        TORCH_ABI_VERSION) == AOTI_TORCH_SUCCESS,
                  "mykernels.add: aten::result_type failed: ", last_torch_error());
  return torch::stable::detail::to<ScalarType>(stack[0]);
}

Tensor as_dtype(const Tensor& t, ScalarType type) {
  return t.scalar_type() == type ? t : torch::stable::to(t, type);
}

Tensor square_op(Tensor x) { return square(view_of(x)); }

Tensor add_op(Tensor a, Tensor b, double alpha) {
  const View va = view_of(a);
  const View vb = view_of(b);
  MYKERNELS_CHECK(va.device == vb.device,
                  "mykernels.add: expected a and b on the same device, got ", va.device, " and ",
                  vb.device);
  // Tensors of one dtype promote to it: no dispatcher call on the common path.
  const ScalarType type = va.dtype == vb.dtype ? va.dtype : result_type(a, b);
  (void)check_dtype("add", type);
  if (va.dtype == type && vb.dtype == type) {
    return add(va, vb, alpha);
  }
  const Tensor pa = as_dtype(a, type);
  const Tensor pb = as_dtype(b, type);
  return add(view_of(pa), view_of(pb), alpha);
}

Tensor d_sigmoid_op(Tensor z) {
  const ScalarType type = z.scalar_type();
  if (!is_integral_or_bool(type)) {
    return d_sigmoid(view_of(z));
  }
  // Integer and bool inputs are promoted like torch.sigmoid: to the default float dtype, which
  // the stable ABI reads only as the dtype of a new tensor.
  const ScalarType float_type = torch::stable::empty({0}).scalar_type();
  (void)check_dtype("d_sigmoid", float_type);
  const Tensor promoted = torch::stable::to(z, float_type);
  return d_sigmoid(view_of(promoted));
}

}  // namespace

STABLE_TORCH_LIBRARY(mykernels, m) {
  m.def("square(Tensor x) -> Tensor");
  m.def("add(Tensor a, Tensor b, *, float alpha=1) -> Tensor");
  m.def("d_sigmoid(Tensor z) -> Tensor");
}

// One implementation per op serves both devices: run_elementwise picks the engine. A build without
// CUDA registers the CUDA key too, so that CUDA tensors get a message saying how to rebuild.
STABLE_TORCH_LIBRARY_IMPL(mykernels, CPU, m) {
  m.impl("square", TORCH_BOX(&square_op));
  m.impl("add", TORCH_BOX(&add_op));
  m.impl("d_sigmoid", TORCH_BOX(&d_sigmoid_op));
}

STABLE_TORCH_LIBRARY_IMPL(mykernels, CUDA, m) {
  m.impl("square", TORCH_BOX(&square_op));
  m.impl("add", TORCH_BOX(&add_op));
  m.impl("d_sigmoid", TORCH_BOX(&d_sigmoid_op));
}

}  // namespace mykernels
