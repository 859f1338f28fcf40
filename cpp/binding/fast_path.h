// The public functions' eager fast path: one raw CPython function per op of the table
// (mykernels._C.square, ...) that runs the operators' implementations (operators.h) directly when
// nothing else would happen on the way to the kernel, and returns None otherwise; and
// mykernels._C._public, which makes the public functions (mykernels.square, ...) from the ops'
// Python functions: the fast path, then the Python function where it declines. fast_path.cpp says
// exactly when. module.cpp finds what the fast path uses of torch at import and hands it over with
// install().
#pragma once

#include <Python.h>
#include <torch/csrc/stable/c/shim.h>

#include <array>

#include "dlpack_exchange.h"

namespace mykernels::fast_path {

using ToPyObject = AOTITorchError (*)(AtenTensorHandle, void*, void**);

// A Python function of no argument (kArgs 0) or of one (kArgs 1). torch's C functions of that
// many arguments (METH_NOARGS, METH_O) are called through their C pointer, without the
// interpreter's generic call (a sizeable part of their cost); others through the interpreter.
// A call returns a new reference, or nullptr after an error.
template <int kArgs>
class Function {
 public:
  static_assert(kArgs == 0 || kArgs == 1);
  Function() = default;
  explicit Function(PyObject* fn) : fn_(fn) {  // keeps a reference for the process's lifetime
    if (PyCFunction_Check(fn) && PyCFunction_GET_FLAGS(fn) == (kArgs == 0 ? METH_NOARGS : METH_O)) {
      c_ = PyCFunction_GET_FUNCTION(fn);
      self_ = PyCFunction_GET_SELF(fn);
    }
  }
  PyObject* operator()() const
    requires(kArgs == 0)
  {
    return c_ != nullptr ? c_(self_, nullptr) : PyObject_CallNoArgs(fn_);
  }
  PyObject* operator()(PyObject* arg) const
    requires(kArgs == 1)
  {
    return c_ != nullptr ? c_(self_, arg) : PyObject_CallOneArg(fn_, arg);
  }

 private:
  PyObject* fn_ = nullptr;
  PyCFunction c_ = nullptr;
  PyObject* self_ = nullptr;
};
using NoArgs = Function<0>;
using OneArg = Function<1>;

// What the fast path uses of torch: found once, at import, by module.cpp.
struct Torch {
  const dlpack::ExchangeApi* dlpack = nullptr;
  PyTypeObject* tensor = nullptr;     // torch.Tensor
  PyTypeObject* parameter = nullptr;  // torch.nn.Parameter
  // The C functions behind Tensor.requires_grad (a getter) and Tensor.is_neg() (a method of no
  // argument), called directly: going through their descriptors costs as much again.
  getter requires_grad = nullptr;
  void* requires_grad_closure = nullptr;
  PyCFunction is_neg = nullptr;
  // For the tensor an out= or in-place call writes: Tensor.is_inference() (a method of no
  // argument, called directly), and torch._C._increment_version, which moves its version
  // counter after the write, as torch's in-place kernels do (autograd then refuses a backward that
  // saved its old value).
  // torch._C._increment_version takes a tuple of tensors in the torchs that read a tensor as
  // the sequence of its elements (`versions_of_tuple`), a tensor in the others.
  PyCFunction is_inference = nullptr;
  OneArg increment_version;
  bool versions_of_tuple = false;
  // Functions of no argument that return True when something watches or redirects operator
  // calls: a TorchFunctionMode, autocast, torch.jit.trace (whose trace would otherwise hold the
  // result as a constant).
  std::array<NoArgs, 3> watchers{};
  // The profiler: torch.autograd.profiler._is_profiler_enabled, the flag that torch's profilers
  // set while they record (torch's compiled code reads it too), read from `profiler_module`'s
  // dict for the cost of a lookup; where a torch lacks it, `profiling` is called instead
  // (torch._C._autograd._profiler_enabled, a pybind11 function that costs as much as the other
  // guards together).
  PyObject* profiler_module = nullptr;
  PyObject* profiler_flag = nullptr;
  NoArgs profiling;
  // torch.autograd.forward_ad._current_level, read from `forward_ad_module`'s dict: -1 unless a
  // dual level is open (torch.autograd.forward_ad.dual_level, which torch.func.jvp opens too),
  // within which a tensor may carry a tangent that the operator's autograd kernel propagates.
  PyObject* forward_ad_module = nullptr;
  PyObject* forward_ad_level = nullptr;
  // torch._C._len_torch_dispatch_stack: the number of active TorchDispatchModes, the
  // infrastructure's (FakeTensorMode, make_fx's tracing, functionalization) included.
  NoArgs dispatch_modes;
  // The hand-back of a result to Python: torch_tensor_to_pyobject, torch 2.14 and later, called
  // directly; before, torch._C._aoti.alloc_tensor_by_stealing_from_void_ptr, a pybind11 function
  // that torch's compiled code uses to take tensors back from its C++ wrappers. Despite its name,
  // in torch 2.10 to 2.13 (the only ones that take this way) it returns a new reference to the
  // handle's tensor and leaves the handle to its owner; the test suite runs under each of them.
  ToPyObject to_pyobject = nullptr;
  PyObject* from_handle = nullptr;
};

// Turns the fast path on with what `torch` holds (its `dlpack` member set); until then every
// call declines.
void install(const Torch& torch);

// The fast-path functions, for PyModule_AddFunctions.
extern PyMethodDef methods[];

}  // namespace mykernels::fast_path
