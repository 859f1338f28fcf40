// The public functions' eager fast path. It uses no C++ API of torch: Python tensors are reached
// through DLPack's C exchange API, which torch publishes on torch.Tensor, and torch's state
// through its Python functions (fast_path.h, found by module.cpp).
//
// Calling an operator through torch.ops costs several microseconds of Python argument parsing and
// dispatch before its kernel starts, more than the kernel of a small tensor takes. The functions
// here are raw CPython functions (METH_FASTCALL), two per op of the table (the fast path alone,
// mykernels._C.<name>, and the public function that make_public builds), that run the operator's
// implementation (operators.h) directly in exactly the case where the dispatcher would reach it
// without doing anything else on the way: plain torch.Tensor arguments (not subclasses) that need
// no gradient, hold no negative bit and are no ZeroTensor, of one supported dtype and device, with
// no TorchFunctionMode, no TorchDispatchMode (user or infrastructure: fake tensors, tracing,
// functionalization), no autocast, no profiler, no forward-mode AD level and no torch.jit.trace
// active. In every other case, and whenever the implementation raises, they decline, and the
// op's Python function (python/mykernels/ops.py) calls the operator, so that errors, autograd,
// modes, subclasses and tracing keep their torch behaviour. Tensors that vmap or torch.func wrap
// have no storage for DLPack to export, and decline too. The public functions (mykernels.<name>)
// are C functions made here (make_public), so that a call the fast path takes runs no Python
// frame.
//
// The result is torch's own tensor, allocated by torch (aoti_torch_empty_strided) and handed to
// Python with torch_tensor_to_pyobject where the running torch has it (2.14 and later), before
// that with the function torch's compiled code uses to take tensors back from C++ (fast_path.h).
#include "fast_path.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <tuple>
#include <utility>

#include "cpp/operators/operators.h"
#include "cpp/operators/signature.h"

namespace mykernels::fast_path {
namespace {

Torch torch_;

// True when `result` (a new reference, or nullptr after an error) is not False: an error counts
// as True, so that the fast path declines.
bool not_false(PyObject* result) {
  if (result == nullptr) {
    PyErr_Clear();
    return true;
  }
  const bool value = result != Py_False;
  Py_DECREF(result);
  return value;
}

bool watched() {
  for (const NoArgs& fn : torch_.watchers) {
    if (not_false(fn())) {
      return true;
    }
  }
  if (torch_.profiler_flag != nullptr) {
    PyObject* flag = PyDict_GetItemWithError(torch_.profiler_module, torch_.profiler_flag);
    if (flag != Py_False) {
      PyErr_Clear();
      return true;
    }
  } else if (not_false(torch_.profiling())) {
    return true;
  }
  PyObject* level = PyDict_GetItemWithError(torch_.forward_ad_module, torch_.forward_ad_level);
  if (level == nullptr || !PyLong_CheckExact(level) || PyLong_AsLong(level) != -1) {
    PyErr_Clear();
    return true;
  }
  PyObject* modes = torch_.dispatch_modes();
  const bool none = modes != nullptr && PyLong_CheckExact(modes) && PyLong_AsLong(modes) == 0;
  Py_XDECREF(modes);
  PyErr_Clear();
  return !none;
}

// The dtypes the kernels take, as torch and DLPack name them.
constexpr std::array<std::pair<ScalarType, dlpack::DataType>, 4> kDtypes{{
    {ScalarType::Float, {dlpack::kFloat, 32, 1}},
    {ScalarType::Double, {dlpack::kFloat, 64, 1}},
    {ScalarType::Half, {dlpack::kFloat, 16, 1}},
    {ScalarType::BFloat16, {dlpack::kBfloat, 16, 1}},
}};

bool to_scalar_type(dlpack::DataType type, ScalarType& out) {
  for (const auto& [scalar_type, dl] : kDtypes) {
    if (dl.code == type.code && dl.bits == type.bits && dl.lanes == type.lanes) {
      out = scalar_type;
      return true;
    }
  }
  return false;
}

// The memory of `obj` when the dispatcher would pass it straight to a mykernels kernel and its
// dtype is one the kernels take, else false. The view is valid while obj is.
bool plain_view(PyObject* obj, bool grad_enabled, View& view) {
  PyTypeObject* type = Py_TYPE(obj);
  if (type != torch_.tensor && type != torch_.parameter) {
    return false;
  }
  if (grad_enabled && not_false(torch_.requires_grad(obj, torch_.requires_grad_closure))) {
    return false;
  }
  // DLPack exports a negative view's memory without its negation.
  if (not_false(torch_.is_neg(obj, nullptr))) {
    return false;
  }
  dlpack::Tensor t;
  if (torch_.dlpack->dltensor_from_py_object_no_sync(obj, &t) != 0) {
    PyErr_Clear();  // meta, sparse, wrapped (vmap, torch.func) or other unexportable tensors
    return false;
  }
  ScalarType dtype;
  if (!to_scalar_type(t.dtype, dtype) || t.strides == nullptr) {
    return false;
  }
  Device device;
  if (t.device.device_type == dlpack::kCUDA) {
    device = {DeviceKind::CUDA, t.device.device_id};
  } else if (t.device.device_type != dlpack::kCPU) {
    return false;
  }
  view = {static_cast<char*>(t.data) + t.byte_offset,
          t.ndim,
          t.shape,
          t.strides,
          dtype,
          device,
          t.dtype.bits / 8};
  // A ZeroTensor exports no memory (an empty tensor may not either, and has nothing to read).
  return t.data != nullptr || std::find(t.shape, t.shape + t.ndim, 0) != t.shape + t.ndim;
}

// The Python tensor of `result`: a new reference to the same torch tensor (its memory from
// torch's allocator, so that resize_ and record_stream act on it as on torch's own results), or
// nullptr with the error cleared.
PyObject* to_python(AtenTensorHandle result) {
  PyObject* out = nullptr;
  if (torch_.to_pyobject != nullptr) {
    void* wrapped = nullptr;
    if (torch_.to_pyobject(result, nullptr, &wrapped) == AOTI_TORCH_SUCCESS) {
      out = static_cast<PyObject*>(wrapped);
    }
  } else if (PyObject* handle = PyCapsule_New(result, nullptr, nullptr); handle != nullptr) {
    out = PyObject_Vectorcall(torch_.from_handle, &handle, 1, nullptr);
    Py_DECREF(handle);
  }
  if (out == nullptr) {
    PyErr_Clear();  // torch_tensor_to_pyobject, too, may leave one set
  }
  return out;
}

// Runs `op` on `inputs` and returns its result, or nullptr (no error set) where it cannot. The GIL
// is released, as torch's own ops do, for a CUDA launch (it may wait for room in the stream's
// queue) and for CPU work that goes to torch's threads; a small CPU call (fewer than
// kCpuGrainSize elements, on the calling thread) keeps it, as it takes less time than releasing
// and taking back the GIL adds. Errors are not raised: the caller then calls the operator, which
// raises them as torch does.
template <class Op>
PyObject* call(const Op& op, const std::array<View, Op::kArity>& inputs) {
  Call<Op::kArity> plan;
  try {
    prepare<Op>(inputs, plan);
  } catch (...) {
    return nullptr;
  }
  const bool release = inputs[0].device.kind == DeviceKind::CUDA || plan.numel >= kCpuGrainSize;
  PyThreadState* state = release ? PyEval_SaveThread() : nullptr;
  Owned result;
  try {
    result = run(op, inputs, plan);
  } catch (...) {  // declined: the operator raises it
  }
  if (state != nullptr) {
    PyEval_RestoreThread(state);
  }
  return result ? to_python(result.get()) : nullptr;
}

// Runs `op` on `inputs` into `target`, the view of the Python tensor `written` (the out= tensor,
// or the first input), and returns a new reference to that tensor, or nullptr (no error set) where
// it cannot: where prepare or check_out refuses (the operator then raises, or resizes), as call
// does otherwise.
template <class Op>
PyObject* call_into(const Op& op, const std::array<View, Op::kArity>& inputs, const View& target,
                    PyObject* written) {
  Call<Op::kArity> plan;
  try {
    prepare<Op>(inputs, plan);
    check_out<Op>(Op::kName, inputs, plan, target);
  } catch (...) {
    return nullptr;
  }
  const bool release = inputs[0].device.kind == DeviceKind::CUDA || plan.numel >= kCpuGrainSize;
  PyThreadState* state = release ? PyEval_SaveThread() : nullptr;
  bool done = false;
  try {
    run_into(op, inputs, plan, target);
    done = true;
  } catch (...) {  // declined: the operator raises it
  }
  if (state != nullptr) {
    PyEval_RestoreThread(state);
  }
  if (!done) {
    return nullptr;
  }
  // After the write, as torch's in-place kernels do. (It fails for no tensor that the fast path
  // takes.)
  PyObject* tensors = torch_.versions_of_tuple ? PyTuple_Pack(1, written) : nullptr;
  PyObject* none = torch_.versions_of_tuple
                       ? (tensors == nullptr ? nullptr : torch_.increment_version(tensors))
                       : torch_.increment_version(written);
  Py_XDECREF(tensors);
  if (none != nullptr) {
    Py_DECREF(none);
  } else {
    PyErr_Clear();
  }
  Py_INCREF(written);
  return written;
}

// A float argument of the schema: a Python float, or an int that fits in 64 bits.
bool to_double(PyObject* obj, double& out) {
  if (PyFloat_CheckExact(obj)) {
    out = PyFloat_AS_DOUBLE(obj);
    return true;
  }
  if (PyLong_CheckExact(obj)) {
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow != 0 || (value == -1 && PyErr_Occurred() != nullptr)) {
      PyErr_Clear();
      return false;
    }
    out = static_cast<double>(value);
    return true;
  }
  return false;
}

// The fast path of `Op` for the tensors args[0..kArity) and the float arguments `scalars`: the
// result, or nullptr (no error set) where it declines. `written`, where not nullptr, is the tensor
// to write the result into (the out= tensor, or args[0] for the in-place form): it takes the
// fast path where it is a plain tensor of the inputs' dtype and device, no inference tensor, with
// the result's shape and no memory shared in part with an input (check_out); otherwise the
// operator converts, resizes or raises.
template <class Op>
PyObject* try_fast(PyObject* const* args,
                   const std::array<double, Signature<Op>::kScalars>& scalars,
                   PyObject* written = nullptr) {
  constexpr int kArity = Op::kArity;
  if (torch_.dlpack == nullptr) {
    return nullptr;
  }
  const bool grad_enabled = aoti_torch_grad_mode_is_enabled();
  std::array<View, kArity> inputs;
  for (int k = 0; k < kArity; ++k) {
    // Inputs of two dtypes or devices go to the operator, which promotes them or says why not.
    if (!plain_view(args[k], grad_enabled, inputs[k]) ||
        (k > 0 &&
         (inputs[k].dtype != inputs[0].dtype || !(inputs[k].device == inputs[0].device)))) {
      return nullptr;
    }
  }
  View target{};
  if (written != nullptr) {
    if (written == args[0]) {
      target = inputs[0];
    } else if (!plain_view(written, grad_enabled, target) || target.dtype != inputs[0].dtype ||
               !(target.device == inputs[0].device)) {
      return nullptr;
    }
    if (not_false(torch_.is_inference(written, nullptr))) {
      return nullptr;
    }
  }
  if (watched()) {
    return nullptr;
  }
  const Op op = std::apply([](auto... s) { return Op{s...}; }, scalars);
  return written != nullptr ? call_into(op, inputs, target, written) : call(op, inputs);
}

// mykernels._C.<name>(tensors..., floats...), all positional, in schema order: the fast path's
// result, else None.
template <class Op>
PyObject* fast(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  constexpr int kScalars = Signature<Op>::kScalars;
  std::array<double, kScalars> scalars{};
  bool fits = nargs == Op::kArity + kScalars;
  for (int i = 0; i < kScalars && fits; ++i) {
    fits = to_double(args[Op::kArity + i], scalars[i]);
  }
  PyObject* out = fits ? try_fast<Op>(args, scalars) : nullptr;
  if (out == nullptr) {
    Py_RETURN_NONE;
  }
  return out;
}

// The public functions of `Op`: mykernels.<name> (kInPlace false), which takes out= too, and
// mykernels.<name>_ (kInPlace true). Each is a C function, so that a call the fast path takes runs
// no Python frame. It takes the tensors positionally and the float arguments (and out) by keyword,
// as its Python function (ops.py) does; any other call, and every call the fast path declines,
// goes to that function with the same arguments: it calls the operator, and it raises Python's
// own error for arguments that do not fit its signature.
template <class Op, bool kInPlace>
struct Public {
  static constexpr int kScalars = Signature<Op>::kScalars;
  static inline PyObject* function = nullptr;             // the Python function
  static inline std::array<PyObject*, kScalars> names{};  // the float arguments' names, interned
  static inline std::array<double, kScalars> defaults{};  // and defaults (the function's),
  static inline std::array<bool, kScalars> required{};    // or none
  static inline PyObject* out = nullptr;                  // "out", interned
};

template <class Op, bool kInPlace>
PyObject* public_call(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs,
                      PyObject* kwnames) {
  using P = Public<Op, kInPlace>;
  if (nargs == Op::kArity) {
    std::array<double, P::kScalars> scalars = P::defaults;
    std::array<bool, P::kScalars> missing = P::required;
    PyObject* written = kInPlace ? args[0] : nullptr;
    const Py_ssize_t keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
    bool fits = true;
    for (Py_ssize_t j = 0; j < keywords && fits; ++j) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, j);
      PyObject* value = args[Op::kArity + j];
      if (!kInPlace && (key == P::out || PyUnicode_Compare(key, P::out) == 0)) {
        written = value == Py_None ? nullptr : value;
        continue;
      }
      const auto* name = std::find_if(P::names.begin(), P::names.end(), [key](PyObject* name) {
        return key == name || PyUnicode_Compare(key, name) == 0;
      });
      const auto i = name - P::names.begin();
      fits = name != P::names.end() && to_double(value, scalars[i]);
      if (fits) {
        missing[i] = false;
      }
    }
    PyErr_Clear();  // PyUnicode_Compare of a key that is no str
    fits = fits && std::find(missing.begin(), missing.end(), true) == missing.end();
    if (PyObject* out = fits ? try_fast<Op>(args, scalars, written) : nullptr; out != nullptr) {
      return out;
    }
  }
  return PyObject_Vectorcall(P::function, args, static_cast<std::size_t>(nargs), kwnames);
}

// Makes Public<Op, kInPlace> from `function` and returns it as a builtin function of `module`
// (mykernels._C) with `doc` (its text signature first, for inspect.signature) and the function's
// __module__ (for pickle, which finds it there by name).
template <class Op, bool kInPlace>
PyObject* make_public(PyObject* module, PyObject* function, const char* doc, PyObject* name) {
  using P = Public<Op, kInPlace>;
  if (P::function != nullptr) {  // its builtin would call the new function: one per process
    PyErr_Format(PyExc_RuntimeError, "mykernels: the public function %U is made already", name);
    return nullptr;
  }
  PyObject* kwdefaults = PyObject_GetAttrString(function, "__kwdefaults__");
  if (kwdefaults == nullptr) {
    return nullptr;
  }
  P::out = PyUnicode_InternFromString("out");
  bool ok = P::out != nullptr;
  for (int i = 0; i < P::kScalars && ok; ++i) {
    const std::string_view arg =
        detail::name_of(detail::argument(Signature<Op>::kSchema, Op::kArity + i));
    P::names[i] = PyUnicode_FromStringAndSize(arg.data(), static_cast<Py_ssize_t>(arg.size()));
    ok = P::names[i] != nullptr;
    if (ok) {
      PyUnicode_InternInPlace(&P::names[i]);
      PyObject* value =
          PyDict_Check(kwdefaults) ? PyDict_GetItem(kwdefaults, P::names[i]) : nullptr;
      P::required[i] = value == nullptr;
      ok = value == nullptr || to_double(value, P::defaults[i]);
      if (!ok) {
        PyErr_Format(PyExc_TypeError,
                     "mykernels: the default of %U in the Python function %U is not a float or "
                     "an int",
                     P::names[i], name);
      }
    }
  }
  Py_DECREF(kwdefaults);
  PyObject* module_name = ok ? PyObject_GetAttrString(function, "__module__") : nullptr;
  if (module_name == nullptr) {
    return nullptr;
  }
  // Kept for the process's lifetime, as the function itself.
  char* const docstring = strdup(doc);
  const char* const function_name = PyUnicode_AsUTF8(name);
  char* const def_name = function_name == nullptr ? nullptr : strdup(function_name);
  if (docstring == nullptr || def_name == nullptr) {
    Py_DECREF(module_name);
    return PyErr_Occurred() != nullptr ? nullptr : PyErr_NoMemory();
  }
  auto* def = new PyMethodDef{
      def_name,
      reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(public_call<Op, kInPlace>)),
      METH_FASTCALL | METH_KEYWORDS, docstring};
  Py_INCREF(function);
  P::function = function;
  PyObject* result = PyCFunction_NewEx(def, module, module_name);
  Py_DECREF(module_name);
  return result;
}

// mykernels._C._public(function, doc): the public function of the op named function.__name__.
PyObject* public_function(PyObject* module, PyObject* args) {
  PyObject* function = nullptr;
  const char* doc = nullptr;
  if (!PyArg_ParseTuple(args, "Os:_public", &function, &doc)) {
    return nullptr;
  }
  PyObject* name = PyObject_GetAttrString(function, "__name__");
  if (name == nullptr) {
    return nullptr;
  }
  const char* text = PyUnicode_AsUTF8(name);
  PyObject* result = nullptr;
  const std::string_view given = text == nullptr ? std::string_view{} : text;
  // <name>, or <name>_ for the in-place form.
  const bool in_place = given.ends_with('_');
  const std::string_view op_name = in_place ? given.substr(0, given.size() - 1) : given;
  bool found = false;
#define MYKERNELS_MAKE_PUBLIC(OP)                                            \
  if (!found && text != nullptr && op_name == OP::kName) {                   \
    found = true;                                                            \
    result = in_place ? make_public<OP, true>(module, function, doc, name)   \
                      : make_public<OP, false>(module, function, doc, name); \
  }
  MYKERNELS_FOR_EACH_OP(MYKERNELS_MAKE_PUBLIC)
#undef MYKERNELS_MAKE_PUBLIC
  if (!found && text != nullptr) {
    PyErr_Format(PyExc_ValueError, "mykernels: the op table has no op named %U", name);
  }
  Py_DECREF(name);
  return result;
}

}  // namespace

void install(const Torch& torch) { torch_ = torch; }

namespace {

template <PyObject* (*Fn)(PyObject*, PyObject* const*, Py_ssize_t)>
PyCFunction as_cfunction() {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Fn));
}

}  // namespace

PyMethodDef methods[] = {
#define MYKERNELS_METHOD(OP)                                                                   \
  {OP::kName, as_cfunction<fast<OP>>(), METH_FASTCALL,                                         \
   "The eager fast path of the mykernels function of this name: its result for plain tensors " \
   "(the tensors, then the float arguments, positionally), else None."},
    MYKERNELS_FOR_EACH_OP(MYKERNELS_METHOD)
#undef MYKERNELS_METHOD
        {"_public", public_function, METH_VARARGS,
         "_public(function, doc): the public function named function.__name__ (an op, or its "
         "in-place form <name>_): the eager fast path, and the Python function for every call it "
         "declines."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace mykernels::fast_path
