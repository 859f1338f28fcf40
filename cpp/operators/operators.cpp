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
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

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

std::int64_t numel(const View& v) {
  std::int64_t n = 1;
  for (int d = 0; d < v.ndim; ++d) {
    n *= v.sizes[d];
  }
  return n;
}

bool same_shape(const View& v, int ndim, const std::int64_t* sizes) {
  return v.ndim == ndim && std::equal(v.sizes, v.sizes + ndim, sizes);
}

// How the memory of two tensors relates, as torch's get_overlap_status sees it: the same elements
// (the same memory, shape and strides), some shared, none, or, where either tensor has gaps or
// repeats, too hard to tell (which torch lets pass, and so does mykernels).
enum class Overlap : std::int8_t { kNone, kFull, kPartial, kUnknown };

Overlap overlap(const View& a, const View& b) {
  if (a.data == b.data && a.ndim == b.ndim && std::equal(a.sizes, a.sizes + a.ndim, b.sizes) &&
      std::equal(a.strides, a.strides + a.ndim, b.strides)) {
    return Overlap::kFull;
  }
  if (numel(a) == 0 || numel(b) == 0) {
    return Overlap::kNone;
  }
  if (!is_dense(a.ndim, a.sizes, a.strides) || !is_dense(b.ndim, b.sizes, b.strides)) {
    return Overlap::kUnknown;
  }
  const char* a_begin = static_cast<const char*>(a.data);
  const char* b_begin = static_cast<const char*>(b.data);
  const char* a_end = a_begin + numel(a) * a.itemsize;
  const char* b_end = b_begin + numel(b) * b.itemsize;
  return a_begin < b_end && b_begin < a_end ? Overlap::kPartial : Overlap::kNone;
}

// Whether two elements of `v` share memory (a stride 0 along a dimension of size 2 or more); a
// tensor with gaps that might still, torch lets pass, and so does mykernels.
bool has_internal_overlap(const View& v) {
  if (is_dense(v.ndim, v.sizes, v.strides)) {
    return false;
  }
  for (int d = 0; d < v.ndim; ++d) {
    if (v.sizes[d] > 1 && v.strides[d] == 0) {
      return true;
    }
  }
  return false;
}

// The operands of a call that writes into memory at `out` with `out_strides`.
template <class Op>
void launch(const Op& op, const std::array<View, Op::kArity>& inputs, const Call<Op::kArity>& call,
            void* out, const std::int64_t* out_strides) {
  std::array<Operand, Op::kArity + 1> operands;
  operands[0] = {out, out_strides};
  for (int k = 0; k < Op::kArity; ++k) {
    operands[k + 1] = {inputs[k].data, call.strides[k]};
  }
  run_elementwise(Op::kName, op, call.dtype, inputs[0].device, call.ndim, call.shape, operands);
}

}  // namespace

View view_of(const Tensor& t) {
  return {t.mutable_data_ptr(),
          static_cast<int>(t.dim()),
          t.sizes().data(),
          t.strides().data(),
          t.scalar_type(),
          t.is_cpu() ? Device{} : Device{DeviceKind::CUDA, t.get_device_index()},
          static_cast<std::int64_t>(t.element_size())};
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
  launch(op, inputs, call, out.data, strides.data());
  return std::move(out.handle);
}

// torch's checks of a written tensor's memory, which it makes before any resize: no element
// written twice, and none that an input reads at another place.
template <std::size_t kArity>
void check_out_memory(const char* name, const std::array<View, kArity>& inputs, const View& out) {
  MYKERNELS_CHECK(!has_internal_overlap(out), "mykernels.", name,
                  ": unsupported operation: more than one element of the written-to tensor refers "
                  "to a single memory location. Please clone() the tensor before performing the "
                  "operation.");
  for (const View& input : inputs) {
    MYKERNELS_CHECK(overlap(input, out) != Overlap::kPartial, "mykernels.", name,
                    ": unsupported operation: some elements of the input tensor and the "
                    "written-to tensor refer to a single memory location. Please clone() the "
                    "tensor before performing the operation.");
  }
}

template <class Op>
void check_out(const char* name, const std::array<View, Op::kArity>& inputs,
               const Call<Op::kArity>& call, const View& out) {
  MYKERNELS_CHECK(out.device == inputs[0].device, "mykernels.", name, ": expected out on ",
                  inputs[0].device, ", the device of ", List{Signature<Op>::kNames}, ", got ",
                  out.device);
  MYKERNELS_CHECK(same_shape(out, call.ndim, call.shape), "mykernels.", name,
                  ": output with shape ", Sizes{out.sizes, out.ndim},
                  " doesn't match the broadcast shape ", Sizes{call.shape, call.ndim});
  check_out_memory(name, inputs, out);
}

template <class Op>
void run_into(const Op& op, const std::array<View, Op::kArity>& inputs,
              const Call<Op::kArity>& call, const View& out) {
  launch(op, inputs, call, out.data, out.strides);
}

// Exported for the binding (api.h): an instantiation's visibility is also that of its template
// arguments, the ops, which the library's hidden default would otherwise give it.
#define MYKERNELS_INSTANTIATE(OP)                                                                  \
  template MYKERNELS_API void prepare<OP>(const std::array<View, OP::kArity>&, Call<OP::kArity>&); \
  template MYKERNELS_API Owned run<OP>(const OP&, const std::array<View, OP::kArity>&,             \
                                       const Call<OP::kArity>&);                                   \
  template MYKERNELS_API void check_out<OP>(const char*, const std::array<View, OP::kArity>&,      \
                                            const Call<OP::kArity>&, const View&);                 \
  template MYKERNELS_API void run_into<OP>(const OP&, const std::array<View, OP::kArity>&,         \
                                           const Call<OP::kArity>&, const View&);
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

// The inputs of an operator call, promoted: each converted to the result's dtype where it has
// another, and the call worked out (prepare).
template <class Op>
struct Promoted {
  std::array<Tensor, Op::kArity> tensors;
  std::array<View, Op::kArity> views;
  ScalarType type;
  Call<Op::kArity> call;
};

template <class Op>
Promoted<Op> promote_inputs(std::array<Tensor, Op::kArity> inputs) {
  constexpr int kArity = Op::kArity;
  Promoted<Op> p{std::move(inputs), {}, {}, {}};
  std::array<Device, kArity> devices;
  for (int k = 0; k < kArity; ++k) {
    p.views[k] = view_of(p.tensors[k]);
    devices[k] = p.views[k].device;
  }
  MYKERNELS_CHECK(
      std::all_of(devices.begin(), devices.end(), [&](Device d) { return d == devices[0]; }),
      "mykernels.", Op::kName, ": expected ", List{Signature<Op>::kNames},
      " on the same device, got ", List{devices});
  p.type = promote<Op>(p.tensors, p.views);
  (void)check_dtype(Op::kName, p.type);
  for (int k = 0; k < kArity; ++k) {
    if (p.views[k].dtype != p.type) {
      p.tensors[k] = torch::stable::to(p.tensors[k], p.type);
      p.views[k] = view_of(p.tensors[k]);
    }
  }
  prepare<Op>(p.views, p.call);
  return p;
}

template <class Op>
Tensor call_operator(std::array<Tensor, Op::kArity> inputs, const Op& op) {
  Promoted<Op> p = promote_inputs<Op>(std::move(inputs));
  return Tensor(run(op, p.views, p.call).release());
}

// A call of an aten operator through the dispatcher; its result, which the caller drops.
template <std::size_t N>
void call_aten(const char* op_name, const char* aten, std::array<StableIValue, N> stack) {
  MYKERNELS_CHECK(
      torch_call_dispatcher(aten, "", stack.data(), TORCH_ABI_VERSION) == AOTI_TORCH_SUCCESS,
      "mykernels.", op_name, ": ", aten, " failed: ", last_torch_error());
  (void)torch::stable::detail::to<Tensor>(stack[0]);
}

// torch's resize of an out= tensor of another shape: with its warning where out had elements, to
// the shape of the result and the strides a new result would have (run).
void resize_out(const char* op_name, Tensor& out, const View& like, int ndim,
                const std::int64_t* shape) {
  View given = view_of(out);
  if (numel(given) != 0) {
    std::ostringstream message;
    message << "mykernels." << op_name << ": an output with one or more elements was resized "
            << "since it had shape " << Sizes{given.sizes, given.ndim}
            << ", which does not match the required output shape " << Sizes{shape, ndim}
            << ". This behavior is deprecated, and in a future PyTorch release outputs will not "
               "be resized unless they have zero elements. You can explicitly reuse an out "
               "tensor t by resizing it, inplace, to zero elements with t.resize_(0).";
    aoti_torch_warn(op_name, __FILE__, __LINE__, message.str().c_str());
  }
  const std::vector<std::int64_t> sizes(shape, shape + ndim);
  call_aten(op_name, "aten::resize_",
            std::array<StableIValue, 3>{torch::stable::detail::from(out),
                                        torch::stable::detail::from(sizes),
                                        torch::stable::detail::from(std::nullopt)});
  DimArray strides;
  if (same_shape(like, ndim, shape)) {
    empty_like_strides(like, strides.data());
  } else {
    contiguous_strides(ndim, shape, strides.data());
  }
  if (!std::equal(strides.begin(), strides.begin() + ndim, view_of(out).strides)) {
    call_aten(op_name, "aten::as_strided_",
              std::array<StableIValue, 4>{torch::stable::detail::from(out),
                                          torch::stable::detail::from(sizes),
                                          torch::stable::detail::from(std::vector<std::int64_t>(
                                              strides.begin(), strides.begin() + ndim)),
                                          torch::stable::detail::from(std::nullopt)});
  }
}

// The operators that write into a tensor: Op's result into `out`, by torch's rules. `name` is the
// op's Python name (add, add_); an out= call (`resize`) resizes an out of another shape, an
// in-place one (whose out is its first input) refuses it.
template <class Op>
void write_operator(const char* name, std::array<Tensor, Op::kArity> inputs, const Op& op,
                    Tensor out, bool resize) {
  const std::array<Tensor, Op::kArity> given = inputs;
  Promoted<Op> p = promote_inputs<Op>(std::move(inputs));
  View target = view_of(out);
  // torch's canCast from a floating-point result: to any floating-point or complex dtype.
  MYKERNELS_CHECK(!is_integral_or_bool(target.dtype), "mykernels.", name, ": result type ",
                  torch::headeronly::toString(p.type), " can't be cast to the desired output type ",
                  torch::headeronly::toString(target.dtype));
  std::array<View, Op::kArity> given_views;
  for (int k = 0; k < Op::kArity; ++k) {
    given_views[k] = view_of(given[k]);
  }
  if (resize && target.device == p.views[0].device &&
      !same_shape(target, p.call.ndim, p.call.shape)) {
    // An out that is also an input is read and written, and keeps its shape, as in torch.
    for (const View& input : given_views) {
      MYKERNELS_CHECK(overlap(input, target) != Overlap::kFull, "mykernels.", name,
                      ": output with shape ", Sizes{target.sizes, target.ndim},
                      " doesn't match the broadcast shape ", Sizes{p.call.shape, p.call.ndim});
    }
    check_out_memory(name, given_views, target);
    resize_out(name, out, p.views[0], p.call.ndim, p.call.shape);
    // The resize may have moved the memory of the inputs that share out's storage (out itself,
    // as an input, has its new shape too; the call keeps the shapes and strides it was worked
    // out with, and the values keep their places).
    for (int k = 0; k < Op::kArity; ++k) {
      p.views[k] = view_of(p.tensors[k]);
    }
    target = view_of(out);
    for (int k = 0; k < Op::kArity; ++k) {
      given_views[k] = view_of(given[k]);
    }
  }
  check_out<Op>(name, given_views, p.call, target);
  if (target.dtype == p.type) {
    run_into(op, p.views, p.call, target);
    return;
  }
  // Another floating-point or a complex dtype: the result, then torch's copy, which converts it.
  const Tensor result(run(op, p.views, p.call).release());
  torch::stable::copy_(out, result);
}

// The Python names of an op's variants: add_ for the in-place one (kName + "_").
template <class Op>
const char* in_place_name() {
  static const std::string name = std::string(Op::kName) + "_";
  return name.c_str();
}

// The operator functions as the schemas declare them, for TORCH_BOX: kArity tensors, then the
// floats that make up the op's members; out= takes the output last.
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
  static void out(TensorArgument<T>... tensors, ScalarArgument<S>... scalars, Tensor out) {
    write_operator<Op>(Op::kName, {std::move(tensors)...}, Op{scalars...}, std::move(out), true);
  }
  static void in_place(TensorArgument<T>... tensors, ScalarArgument<S>... scalars) {
    std::array<Tensor, Op::kArity> inputs{std::move(tensors)...};
    Tensor self = inputs[0];
    write_operator<Op>(in_place_name<Op>(), std::move(inputs), Op{scalars...}, std::move(self),
                       false);
  }
  static constexpr auto kFunction = &call;
  static constexpr auto kOut = &out;
  static constexpr auto kInPlace = &in_place;
};

// The schemas of an op's variants, made from its own (cpp/core/ops.h): for
// "add(Tensor input, Tensor other, *, float alpha=1) -> Tensor",
//   "add.out(Tensor input, Tensor other, *, float alpha=1, Tensor(a!) out) -> ()" and
//   "add_(Tensor(a!) input, Tensor other, *, float alpha=1) -> ()".
// They return nothing, as the operators of torch.library.custom_op that mutate do: torch.compile
// functionalizes no custom operator whose result aliases an input. (The public functions return
// the tensor written, as torch's do.)
std::string out_schema(std::string_view schema) {
  const std::string_view name = schema.substr(0, schema.find('('));
  const std::string_view arguments =
      schema.substr(name.size() + 1, schema.find(')') - name.size() - 1);
  const bool keywords = arguments.find('*') != std::string_view::npos;
  return std::string(name) + ".out(" + std::string(arguments) + (keywords ? ", " : ", *, ") +
         "Tensor(a!) out) -> ()";
}

std::string in_place_schema(std::string_view schema) {
  const std::string_view name = schema.substr(0, schema.find('('));
  const std::string_view first = "(Tensor ";
  const std::string_view arguments =
      schema.substr(name.size() + first.size(), schema.find(')') - name.size() - first.size());
  return std::string(name) + "_(Tensor(a!) " + std::string(arguments) + ") -> ()";
}

}  // namespace

STABLE_TORCH_LIBRARY(mykernels, m) {
#define MYKERNELS_DEFINE(OP)                                                                       \
  m.def(OP::kSchema);                                                                              \
  {                                                                                                \
    static const std::string variants[] = {out_schema(OP::kSchema), in_place_schema(OP::kSchema)}; \
    for (const std::string& schema : variants) {                                                   \
      m.def(schema.c_str());                                                                       \
    }                                                                                              \
  }
  MYKERNELS_FOR_EACH_OP(MYKERNELS_DEFINE)
#undef MYKERNELS_DEFINE
}

// One implementation per op serves both devices: run_elementwise picks the engine. A build without
// CUDA registers the CUDA key too, so that CUDA tensors get a message saying how to rebuild.
#define MYKERNELS_IMPLEMENT(OP)                                                     \
  m.impl(OP::kName, TORCH_BOX(Operator<OP>::kFunction));                            \
  m.impl((std::string(OP::kName) + ".out").c_str(), TORCH_BOX(Operator<OP>::kOut)); \
  m.impl(in_place_name<OP>(), TORCH_BOX(Operator<OP>::kInPlace));
STABLE_TORCH_LIBRARY_IMPL(mykernels, CPU, m){
    MYKERNELS_FOR_EACH_OP(MYKERNELS_IMPLEMENT)} STABLE_TORCH_LIBRARY_IMPL(mykernels, CUDA, m) {
  MYKERNELS_FOR_EACH_OP(MYKERNELS_IMPLEMENT)
}
#undef MYKERNELS_IMPLEMENT

}  // namespace mykernels
