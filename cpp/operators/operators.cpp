// The operators of every op in the table (cpp/core/ops.h) on the LibTorch stable ABI: schemas,
// argument checks, promotion, output allocation and the CPU and CUDA registrations, all generated
// from the table. Autograd and the fake (meta) kernels are registered from Python
// (python/mykernels/ops.py); the math lives in the engines.
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
#include "signature.h"

namespace mykernels {
namespace {

using DimArray = std::array<std::int64_t, kMaxTorchDims>;

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
  std::array<int, kMaxTorchDims> perm;
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
  std::array<int, kMaxTorchDims> perm;
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

// A new tensor of torch's allocator, and its memory.
struct Allocated {
  Owned handle;
  void* data;
};

Allocated empty_strided(int ndim, const std::int64_t* sizes, const std::int64_t* strides,
                        ScalarType type, Device device) {
  AtenTensorHandle handle = nullptr;
  const bool cpu = device.kind == DeviceKind::CPU;
  MYKERNELS_CHECK(
      aoti_torch_empty_strided(ndim, sizes, strides, supported(type)->aoti(),
                               cpu ? aoti_torch_device_type_cpu() : aoti_torch_device_type_cuda(),
                               cpu ? 0 : device.index, &handle) == AOTI_TORCH_SUCCESS,
      "mykernels: could not allocate a result of shape ", Sizes{sizes, ndim}, " on ", device, ": ",
      last_torch_error());
  Allocated out{Owned(handle), nullptr};
  MYKERNELS_CHECK(torch_get_mutable_data_ptr(handle, &out.data) == AOTI_TORCH_SUCCESS,
                  "mykernels: could not read the memory of a new tensor: ", last_torch_error());
  return out;
}

}  // namespace

View view_of(const Tensor& t) {
  return {
      t.mutable_data_ptr(), static_cast<int>(t.dim()),
      t.sizes().data(),     t.strides().data(),
      t.scalar_type(),      t.is_cpu() ? Device{} : Device{DeviceKind::CUDA, t.get_device_index()}};
}

template <class Op>
void prepare(const std::array<View, Op::kArity>& inputs, Call<Op::kArity>& call) {
  constexpr int kArity = Op::kArity;
  const View& first = inputs[0];
  for (const View& input : inputs) {
    MYKERNELS_CHECK(input.dtype == first.dtype && input.device == first.device, "mykernels.",
                    Op::kName, ": internal error: inputs of two dtypes or devices");
  }
  call.dtype = check_dtype(Op::kName, first.dtype).dtype;
  call.ndim = 0;
  for (const View& input : inputs) {
    call.ndim = std::max(call.ndim, input.ndim);
  }
  // The broadcast shape, from the last dimension on, and each input's strides over it.
  call.numel = 1;
  for (int d = call.ndim - 1; d >= 0; --d) {
    std::int64_t size = 1;
    int from = 0;  // the input that set `size`
    for (int k = 0; k < kArity; ++k) {
      const int dk = inputs[k].ndim - call.ndim + d;
      const std::int64_t size_k = dk >= 0 ? inputs[k].sizes[dk] : 1;
      MYKERNELS_CHECK(
          size_k == size || size_k == 1 || size == 1, "mykernels.", Op::kName, ": ",
          Signature<Op>::kNames[from], " of shape ", Sizes{inputs[from].sizes, inputs[from].ndim},
          " and ", Signature<Op>::kNames[k], " of shape ", Sizes{inputs[k].sizes, inputs[k].ndim},
          " do not broadcast: sizes ", size, " and ", size_k, " differ at dimension ", d,
          " of the result and neither is 1");
      if (size_k != 1) {
        size = size_k;
        from = k;
      }
    }
    call.shape[d] = size;
    call.numel *= size;
    for (int k = 0; k < kArity; ++k) {
      const int dk = inputs[k].ndim - call.ndim + d;
      call.strides[k][d] = dk >= 0 && inputs[k].sizes[dk] == size ? inputs[k].strides[dk] : 0;
    }
  }
}

template <class Op>
Owned run(const Op& op, const std::array<View, Op::kArity>& inputs, const Call<Op::kArity>& call) {
  const View& first = inputs[0];
  // The result: torch.empty_like(first) when first has the result's shape, else contiguous.
  DimArray strides;
  if (first.ndim == call.ndim && std::equal(first.sizes, first.sizes + call.ndim, call.shape)) {
    empty_like_strides(first, strides.data());
  } else {
    contiguous_strides(call.ndim, call.shape, strides.data());
  }
  Allocated out = empty_strided(call.ndim, call.shape, strides.data(), first.dtype, first.device);
  std::array<Operand, Op::kArity + 1> operands;
  operands[0] = {out.data, strides.data()};
  for (int k = 0; k < Op::kArity; ++k) {
    operands[k + 1] = {inputs[k].data, call.strides[k]};
  }
  run_elementwise(Op::kName, op, call.dtype, first.device, call.ndim, call.shape, operands);
  return std::move(out.handle);
}

// Exported for the binding (api.h): an instantiation's visibility is also that of its template
// arguments, the ops, which the library's hidden default would otherwise give it.
#define MYKERNELS_INSTANTIATE(OP)                                                                  \
  template MYKERNELS_API void prepare<OP>(const std::array<View, OP::kArity>&, Call<OP::kArity>&); \
  template MYKERNELS_API Owned run<OP>(const OP&, const std::array<View, OP::kArity>&,             \
                                       const Call<OP::kArity>&);
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE

namespace {

// The operators: promotion, then the ops above.

ScalarType result_type(const char* op_name, const Tensor& a, const Tensor& b) {
  std::array<StableIValue, 2> stack{torch::stable::detail::from(a), torch::stable::detail::from(b)};
  MYKERNELS_CHECK(torch_call_dispatcher("aten::result_type", "Tensor", stack.data(),
                                        TORCH_ABI_VERSION) == AOTI_TORCH_SUCCESS,
                  "mykernels.", op_name, ": aten::result_type failed: ", last_torch_error());
  return torch::stable::detail::to<ScalarType>(stack[0]);
}

// torch's default float dtype, which the stable ABI reads only as the dtype of a new tensor.
ScalarType default_float_dtype() { return torch::stable::empty({0}).scalar_type(); }

// The result dtype of Op on `inputs`, whose views are `views` (Promotion in cpp/core/ops.h).
template <class Op>
ScalarType promote(const std::array<Tensor, Op::kArity>& inputs,
                   const std::array<View, Op::kArity>& views) {
  static_assert(Op::kArity <= 2,
                "aten::result_type takes two tensors: promoting more inputs is not written yet");
  ScalarType type = views[0].dtype;
  // Tensors of one dtype promote to it: no dispatcher call on the common path.
  if (Op::kArity == 2 && views[Op::kArity - 1].dtype != type) {
    type = result_type(Op::kName, inputs[0], inputs[Op::kArity - 1]);
  }
  if (Op::kPromotion == Promotion::kIntegerToFloat && is_integral_or_bool(type)) {
    type = default_float_dtype();
  }
  return type;
}

// A list in messages: "a and b", "x, y and z".
template <class T, std::size_t N>
struct List {
  const std::array<T, N>& items;
  friend std::ostream& operator<<(std::ostream& os, const List& list) {
    for (std::size_t i = 0; i < N; ++i) {
      os << (i == 0 ? "" : i + 1 == N ? " and " : ", ") << list.items[i];
    }
    return os;
  }
};

template <class Op>
Tensor call_operator(std::array<Tensor, Op::kArity> inputs, const Op& op) {
  constexpr int kArity = Op::kArity;
  std::array<View, kArity> views;
  std::array<Device, kArity> devices;
  for (int k = 0; k < kArity; ++k) {
    views[k] = view_of(inputs[k]);
    devices[k] = views[k].device;
  }
  MYKERNELS_CHECK(
      std::all_of(devices.begin(), devices.end(), [&](Device d) { return d == devices[0]; }),
      "mykernels.", Op::kName, ": expected ", List{Signature<Op>::kNames},
      " on the same device, got ", List{devices});
  const ScalarType type = promote<Op>(inputs, views);
  (void)check_dtype(Op::kName, type);
  for (int k = 0; k < kArity; ++k) {
    if (views[k].dtype != type) {
      inputs[k] = torch::stable::to(inputs[k], type);
      views[k] = view_of(inputs[k]);
    }
  }
  Call<kArity> call;
  prepare<Op>(views, call);
  return Tensor(run(op, views, call).release());
}

// The operator's function as the schema declares it: kArity tensors, then the floats that make up
// the op's members, for TORCH_BOX.
template <class Op, class Tensors = std::make_index_sequence<Op::kArity>,
          class Scalars = std::make_index_sequence<Signature<Op>::kScalars>>
struct Operator;

template <class Op, std::size_t... T, std::size_t... S>
struct Operator<Op, std::index_sequence<T...>, std::index_sequence<S...>> {
  template <std::size_t>
  using TensorArgument = Tensor;
  template <std::size_t>
  using ScalarArgument = double;

  static Tensor call(TensorArgument<T>... tensors, ScalarArgument<S>... scalars) {
    return call_operator<Op>({std::move(tensors)...}, Op{scalars...});
  }
  static constexpr auto kFunction = &call;
};

}  // namespace

STABLE_TORCH_LIBRARY(mykernels, m) {
#define MYKERNELS_DEFINE(OP) m.def(OP::kSchema);
  MYKERNELS_FOR_EACH_OP(MYKERNELS_DEFINE)
#undef MYKERNELS_DEFINE
}

// One implementation per op serves both devices: run_elementwise picks the engine. A build without
// CUDA registers the CUDA key too, so that CUDA tensors get a message saying how to rebuild.
#define MYKERNELS_IMPLEMENT(OP) m.impl(OP::kName, TORCH_BOX(Operator<OP>::kFunction));
STABLE_TORCH_LIBRARY_IMPL(mykernels, CPU, m){
    MYKERNELS_FOR_EACH_OP(MYKERNELS_IMPLEMENT)} STABLE_TORCH_LIBRARY_IMPL(mykernels, CUDA, m) {
  MYKERNELS_FOR_EACH_OP(MYKERNELS_IMPLEMENT)
}
#undef MYKERNELS_IMPLEMENT

}  // namespace mykernels
