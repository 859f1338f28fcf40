// The public functions' eager fast path. It uses no C++ API of torch: Python tensors are reached
// through DLPack's C exchange API, which torch publishes on torch.Tensor, and torch's state
// through its Python functions (fast_path.h, found by module.cpp).
//
// Calling an operator through torch.ops costs several microseconds of Python argument parsing and
// dispatch before its kernel starts, more than the kernel of a small tensor takes. The functions
// here, one per op of the table, are raw CPython functions (METH_FASTCALL) that run the operator's
// implementation (operators.h) directly in exactly the case where the dispatcher would reach it
// without doing anything else on the way: plain torch.Tensor arguments (not subclasses) that need
// no gradient, hold no negative bit and are no ZeroTensor, of one supported dtype and device, with
// no TorchFunctionMode, no TorchDispatchMode (user or infrastructure: fake tensors, tracing,
// functionalization), no autocast, no profiler, no forward-mode AD level and no torch.jit.trace
// active. In every other case,
// and whenever the implementation raises, they return None and the Python function
// (python/mykernels/ops.py) calls the operator, so that errors, autograd, modes, subclasses and
// tracing keep their torch behaviour. Tensors that vmap or torch.func wrap have no storage for
// DLPack to export, and decline too.
//
// The result is torch's own tensor, allocated by torch (aoti_torch_empty_strided) and handed to
// Python with torch_tensor_to_pyobject where the running torch has it (2.14 and later), before
// that with the function torch's compiled code uses to take tensors back from C++ (fast_path.h).
#include "fast_path.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>

#include "operators.h"
#include "signature.h"

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
  view = {static_cast<char*>(t.data) + t.byte_offset, t.ndim, t.shape, t.strides, dtype, device};
  // A ZeroTensor exports no memory (an empty tensor may not either, and has nothing to read).
  return t.data != nullptr || std::find(t.shape, t.shape + t.ndim, 0) != t.shape + t.ndim;
}

// The Python tensor of `result`: a new reference to the same torch tensor (its memory from
// torch's allocator, so that resize_ and record_stream act on it as on torch's own results), or
// nullptr with the error cleared.
PyObject* to_python(const Tensor& result) {
  if (torch_.to_pyobject != nullptr) {
    void* out = nullptr;
    return torch_.to_pyobject(result.get(), nullptr, &out) == AOTI_TORCH_SUCCESS
               ? static_cast<PyObject*>(out)
               : nullptr;
  }
  PyObject* handle = PyCapsule_New(result.get(), nullptr, nullptr);
  PyObject* out =
      handle != nullptr ? PyObject_Vectorcall(torch_.from_handle, &handle, 1, nullptr) : nullptr;
  Py_XDECREF(handle);
  if (out == nullptr) {
    PyErr_Clear();
  }
  return out;
}

// Runs `op` on `inputs` and returns its result. The GIL is released, as torch's own ops do, for a
// CUDA launch (it may wait for room in the stream's queue) and for CPU work that goes to torch's
// threads; a small CPU call (fewer than kCpuGrainSize elements, on the calling thread) keeps it,
// as it takes less time than releasing and taking back the GIL adds. Returns None instead of
// raising: the caller then calls the operator, which raises the error as torch does.
template <class Op>
PyObject* call(const Op& op, const std::array<View, Op::kArity>& inputs) {
  Call<Op::kArity> plan;
  try {
    prepare<Op>(inputs, plan);
  } catch (...) {
    Py_RETURN_NONE;
  }
  const bool release = inputs[0].device.kind == DeviceKind::CUDA || plan.numel >= kCpuGrainSize;
  PyThreadState* state = release ? PyEval_SaveThread() : nullptr;
  std::optional<Tensor> result;
  try {
    result.emplace(run(op, inputs, plan));
  } catch (...) {
    result.reset();
  }
  if (state != nullptr) {
    PyEval_RestoreThread(state);
  }
  PyObject* out = result ? to_python(*result) : nullptr;
  if (out == nullptr) {
    Py_RETURN_NONE;
  }
  return out;
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

// The fast path of `Op`: mykernels._C.<name>(tensors..., floats...), all positional, in schema
// order.
template <class Op>
PyObject* fast(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  constexpr int kArity = Op::kArity;
  constexpr int kScalars = Signature<Op>::kScalars;
  if (nargs != kArity + kScalars || torch_.dlpack == nullptr) {
    Py_RETURN_NONE;
  }
  const bool grad_enabled = aoti_torch_grad_mode_is_enabled();
  std::array<View, kArity> inputs;
  for (int k = 0; k < kArity; ++k) {
    // Inputs of two dtypes or devices go to the operator, which promotes them or says why not.
    if (!plain_view(args[k], grad_enabled, inputs[k]) ||
        (k > 0 &&
         (inputs[k].dtype != inputs[0].dtype || !(inputs[k].device == inputs[0].device)))) {
      Py_RETURN_NONE;
    }
  }
  std::array<double, kScalars> scalars{};
  for (int i = 0; i < kScalars; ++i) {
    if (!to_double(args[kArity + i], scalars[i])) {
      Py_RETURN_NONE;
    }
  }
  if (watched()) {
    Py_RETURN_NONE;
  }
  return call(std::apply([](auto... s) { return Op{s...}; }, scalars), inputs);
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
        {nullptr, nullptr, 0, nullptr}};

}  // namespace mykernels::fast_path
