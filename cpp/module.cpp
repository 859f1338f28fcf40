// The Python extension module mykernels._C. Loading it runs the operator registrations of
// ops.cpp. The module holds the public functions' eager fast path and reports what it was compiled
// with.
//
// The fast path. Calling an operator through torch.ops costs several microseconds of Python
// argument parsing and dispatch before its kernel starts, more than the kernel of a small tensor
// takes. square, add and d_sigmoid here are raw CPython functions (METH_FASTCALL: no argument
// tuple, no pybind11 dispatch) that call the operator's implementation directly (ops.h) in exactly
// the case where the dispatcher would reach it without doing anything else on the way: plain
// torch.Tensor arguments that need no gradient, no mode or other dispatch layer active, no profiler
// listening. In every other case, and whenever the implementation raises, they return None and the
// Python function (python/mykernels/ops.py) calls the operator, so that errors, autograd, modes,
// subclasses and tracing keep their torch behaviour.
//
// torch's Python headers (THPVariable_*) include torch's copy of pybind11: the module compiles
// against that copy (cpp/CMakeLists.txt).
#include <ATen/PythonTorchFunctionTLS.h>
#include <ATen/record_function.h>
#include <c10/core/DispatchKeySet.h>
#include <c10/core/GradMode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/core/impl/TorchDispatchModeTLS.h>
#include <pybind11/pybind11.h>
#include <torch/csrc/autograd/python_variable.h>

#include <cstdint>
#include <utility>

#include "cpu/cpu_kernels.h"
#include "ops.h"

#ifdef MYKERNELS_WITH_CUDA
#include "mykernels/cuda_kernels.h"
#endif

namespace mykernels {
namespace {

// The tensor behind `obj` when the dispatcher would pass it straight to the CPU or CUDA kernel of
// a mykernels operator, else nullptr.
const at::Tensor* plain_tensor(PyObject* obj) {
  // torch.Tensor or nn.Parameter, not a subclass (those may override __torch_function__).
  if (!THPVariable_CheckExact(obj)) {
    return nullptr;
  }
  const at::Tensor& t = THPVariable_Unpack(obj);
  if (!t.defined()) {
    return nullptr;
  }
  // The dispatch keys the dispatcher would see: the tensor's, plus those that modes, vmap,
  // tracing or autocast include, minus those excluded on this thread. BackendSelect is always
  // included and only matters for factory functions.
  const c10::impl::LocalDispatchKeySet local = c10::impl::tls_local_dispatch_key_set();
  c10::DispatchKeySet keys = (t.key_set() | local.included_) - local.excluded_;
  keys = keys.remove(c10::DispatchKey::BackendSelect);
  if (!(c10::GradMode::is_enabled() && t.requires_grad())) {
    keys = keys - c10::autograd_dispatch_keyset_with_ADInplaceOrView;
  }
  const c10::DispatchKey top = keys.highestPriorityTypeId();
  return top == c10::DispatchKey::CPU || top == c10::DispatchKey::CUDA ? &t : nullptr;
}

// True when something outside the dispatch keys watches or redirects operator calls.
bool observed() {
  return at::hasCallbacks() || at::impl::torch_function_mode_enabled() ||
         c10::impl::TorchDispatchModeTLS::any_modes_set();
}

// Runs `op` without the GIL (the kernel of a large CPU tensor takes a while, and a CUDA launch may
// wait for room in the stream's queue) and wraps its result. Returns None instead of raising: the
// caller then calls the operator, which raises the error as torch does.
template <class Op>
PyObject* call(Op&& op) {
  at::Tensor result;
  PyThreadState* state = PyEval_SaveThread();
  try {
    result = std::forward<Op>(op)();
  } catch (...) {
    result.reset();
  }
  PyEval_RestoreThread(state);
  if (!result.defined()) {
    Py_RETURN_NONE;
  }
  return THPVariable_Wrap(std::move(result));
}

// The fast path of a one-tensor op.
template <at::Tensor (*Impl)(const at::Tensor&)>
PyObject* unary_fast(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  const at::Tensor* x = nargs == 1 ? plain_tensor(args[0]) : nullptr;
  if (x == nullptr || observed()) {
    Py_RETURN_NONE;
  }
  return call([x] { return Impl(*x); });
}

// alpha as the Scalar the operator's schema would parse it to: a Python int or float only.
bool to_scalar(PyObject* obj, c10::Scalar& out) {
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
    out = static_cast<std::int64_t>(value);
    return true;
  }
  return false;
}

PyObject* add_fast(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3) {
    Py_RETURN_NONE;
  }
  const at::Tensor* a = plain_tensor(args[0]);
  const at::Tensor* b = a != nullptr ? plain_tensor(args[1]) : nullptr;
  c10::Scalar alpha;
  if (b == nullptr || !to_scalar(args[2], alpha) || observed()) {
    Py_RETURN_NONE;
  }
  return call([a, b, &alpha] { return mykernels::add(*a, *b, alpha); });
}

template <PyObject* (*Fn)(PyObject*, PyObject* const*, Py_ssize_t)>
PyCFunction as_cfunction() {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Fn));
}

PyMethodDef methods[] = {
    {"square", as_cfunction<unary_fast<mykernels::square>>(), METH_FASTCALL,
     "square($module, x, /)\n--\n\nmykernels.square(x) for a plain tensor, else None."},
    {"add", as_cfunction<add_fast>(), METH_FASTCALL,
     "add($module, a, b, alpha, /)\n--\n\nmykernels.add(a, b, alpha=alpha) for plain tensors, "
     "else None."},
    {"d_sigmoid", as_cfunction<unary_fast<mykernels::d_sigmoid>>(), METH_FASTCALL,
     "d_sigmoid($module, z, /)\n--\n\nmykernels.d_sigmoid(z) for a plain tensor, else None."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace
}  // namespace mykernels

PYBIND11_MODULE(_C, m) {
  m.doc() = "mykernels' compiled operators; import mykernels instead of this module.";
  if (PyModule_AddFunctions(m.ptr(), mykernels::methods) != 0) {
    throw pybind11::error_already_set();
  }
  m.attr("cpu_capability") = mykernels::cpu::capability();
#ifdef MYKERNELS_WITH_CUDA
  m.attr("cuda_runtime_version") = mykernels::cuda::compiled_runtime_version();
#else
  m.attr("cuda_runtime_version") = pybind11::none();
#endif
}
