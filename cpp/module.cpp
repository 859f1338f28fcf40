// The Python extension module mykernels._C. Loading it runs the operator registrations of
// ops.cpp. The module holds the public functions' eager fast path and reports what it was compiled
// with. It uses no C++ API of torch: Python tensors are reached through DLPack's C exchange API,
// which torch publishes on torch.Tensor, and torch's state through its Python functions.
//
// The fast path. Calling an operator through torch.ops costs several microseconds of Python
// argument parsing and dispatch before its kernel starts, more than the kernel of a small tensor
// takes. square, add and d_sigmoid here are raw CPython functions (METH_FASTCALL) that run the
// operator's implementation (ops.h) directly in exactly the case where the dispatcher would reach
// it without doing anything else on the way: plain torch.Tensor arguments (not subclasses) that
// need no gradient, hold no negative bit and are no ZeroTensor, of one supported dtype and device,
// with no TorchFunctionMode, no TorchDispatchMode (user or infrastructure: fake tensors, tracing,
// functionalization), no autocast and no profiler active. In every other case, and whenever the
// implementation raises, they return None and the Python function (python/mykernels/ops.py) calls
// the operator, so that errors, autograd, modes, subclasses and tracing keep their torch behaviour.
// Tensors that vmap or torch.func wrap have no storage for DLPack to export, and decline too.
//
// The result is a torch.Tensor made by torch_tensor_to_pyobject where the running torch has it
// (2.14 and later); before 2.14 it comes through DLPack, and its storage, being borrowed from the
// allocation, cannot be resized (resize_ raises; README).
#include <pybind11/pybind11.h>
#include <torch/csrc/stable/c/shim.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "cpu/cpu_kernels.h"
#include "dlpack_exchange.h"
#include "ops.h"
#include "runtime_symbols.h"

#ifdef MYKERNELS_WITH_CUDA
#include "mykernels/cuda_kernels.h"
#endif

namespace mykernels {
namespace {

using ToPyObject = AOTITorchError (*)(AtenTensorHandle, void*, void**);

// What the fast path uses of torch, found once at import.
struct Torch {
  const dlpack::ExchangeApi* dlpack = nullptr;
  PyTypeObject* tensor = nullptr;     // torch.Tensor
  PyTypeObject* parameter = nullptr;  // torch.nn.Parameter
  PyObject* requires_grad = nullptr;  // the descriptor of Tensor.requires_grad
  PyObject* is_neg = nullptr;         // the descriptor of Tensor.is_neg
  // Functions of no argument that return True when something watches or redirects operator
  // calls: a TorchFunctionMode, autocast, the profiler.
  std::array<PyObject*, 3> watchers{};
  // torch._C._len_torch_dispatch_stack: the number of active TorchDispatchModes, the
  // infrastructure's (FakeTensorMode, make_fx's tracing, functionalization) included.
  PyObject* dispatch_modes = nullptr;
  ToPyObject to_pyobject = nullptr;  // torch_tensor_to_pyobject, torch 2.14 and later
};
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
  for (PyObject* fn : torch_.watchers) {
    if (not_false(PyObject_CallNoArgs(fn))) {
      return true;
    }
  }
  PyObject* modes = PyObject_CallNoArgs(torch_.dispatch_modes);
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

dlpack::DataType to_dlpack(ScalarType type) {
  for (const auto& [scalar_type, dl] : kDtypes) {
    if (scalar_type == type) {
      return dl;
    }
  }
  return {};  // not reached: the fast path takes only these dtypes
}

// The memory of `obj` when the dispatcher would pass it straight to a mykernels kernel and its
// dtype is one the kernels take, else false. The view is valid while obj is.
bool plain_view(PyObject* obj, bool grad_enabled, View& view) {
  PyTypeObject* type = Py_TYPE(obj);
  if (type != torch_.tensor && type != torch_.parameter) {
    return false;
  }
  if (grad_enabled &&
      not_false(Py_TYPE(torch_.requires_grad)
                    ->tp_descr_get(torch_.requires_grad, obj, reinterpret_cast<PyObject*>(type)))) {
    return false;
  }
  // DLPack exports a negative view's memory without its negation.
  PyObject* self[] = {obj};
  if (not_false(PyObject_Vectorcall(torch_.is_neg, self, 1, nullptr))) {
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
  // A ZeroTensor exports no memory (an empty tensor may not either, and has nothing to read).
  std::int64_t numel = 1;
  for (int d = 0; d < t.ndim; ++d) {
    numel *= t.shape[d];
  }
  if (t.data == nullptr && numel != 0) {
    return false;
  }
  view = {static_cast<char*>(t.data) + t.byte_offset, t.ndim, t.shape, t.strides, dtype, device};
  return true;
}

// A DLPack tensor that owns a reference to a stable Tensor, for torch before 2.14.
struct Owner {
  dlpack::ManagedTensorVersioned managed;
  AtenTensorHandle handle;
};

void delete_owner(dlpack::ManagedTensorVersioned* managed) {
  auto* owner = static_cast<Owner*>(managed->manager_ctx);
  (void)aoti_torch_delete_tensor_object(owner->handle);
  delete owner;
}

// The Python tensor of `out`, which the fast path computed from inputs like `like`.
PyObject* to_python(const Tensor& out, const View& like) {
  void* result = nullptr;
  if (torch_.to_pyobject != nullptr) {
    if (torch_.to_pyobject(out.get(), nullptr, &result) != AOTI_TORCH_SUCCESS) {
      Py_RETURN_NONE;
    }
    return static_cast<PyObject*>(result);
  }
  auto* owner = new Owner{};
  if (aoti_torch_new_tensor_handle(out.get(), &owner->handle) != AOTI_TORCH_SUCCESS) {
    delete owner;
    Py_RETURN_NONE;
  }
  std::int64_t* sizes = nullptr;
  std::int64_t* strides = nullptr;
  std::int64_t ndim = 0;
  (void)aoti_torch_get_sizes(owner->handle, &sizes);
  (void)aoti_torch_get_strides(owner->handle, &strides);
  (void)aoti_torch_get_dim(owner->handle, &ndim);
  void* data = nullptr;
  (void)aoti_torch_get_data_ptr(owner->handle, &data);
  const Device device = like.device;
  owner->managed = {{dlpack::kMajorVersion, dlpack::kMinorVersion},
                    owner,
                    delete_owner,
                    0,
                    {data,
                     {device.kind == DeviceKind::CPU ? dlpack::kCPU : dlpack::kCUDA,
                      device.kind == DeviceKind::CPU ? 0 : device.index},
                     static_cast<std::int32_t>(ndim),
                     to_dlpack(like.dtype),
                     sizes,
                     strides,
                     0}};
  if (torch_.dlpack->managed_tensor_to_py_object_no_sync(&owner->managed, &result) != 0) {
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  return static_cast<PyObject*>(result);
}

// Runs `impl` without the GIL (the kernel of a large CPU tensor takes a while, and a CUDA launch
// may wait for room in the stream's queue) and wraps its result. Returns None instead of raising:
// the caller then calls the operator, which raises the error as torch does.
template <class Impl>
PyObject* call(const View& like, Impl&& impl) {
  std::optional<Tensor> result;
  PyThreadState* state = PyEval_SaveThread();
  try {
    result.emplace(impl());
  } catch (...) {
    result.reset();
  }
  PyEval_RestoreThread(state);
  if (!result) {
    Py_RETURN_NONE;
  }
  return to_python(*result, like);
}

// The fast path of a one-tensor op.
template <Tensor (*Impl)(const View&)>
PyObject* unary_fast(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  View x;
  if (nargs != 1 || torch_.dlpack == nullptr ||
      !plain_view(args[0], aoti_torch_grad_mode_is_enabled(), x) || watched()) {
    Py_RETURN_NONE;
  }
  return call(x, [&x] { return Impl(x); });
}

// alpha as the schema's float: a Python float, or an int that fits in 64 bits.
bool to_alpha(PyObject* obj, double& out) {
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

PyObject* add_fast(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3 || torch_.dlpack == nullptr) {
    Py_RETURN_NONE;
  }
  const bool grad_enabled = aoti_torch_grad_mode_is_enabled();
  View a;
  View b;
  double alpha = 0;
  // Inputs of two dtypes or devices go to the operator, which promotes them or says why not.
  if (!plain_view(args[0], grad_enabled, a) || !plain_view(args[1], grad_enabled, b) ||
      a.dtype != b.dtype || !(a.device == b.device) || !to_alpha(args[2], alpha) || watched()) {
    Py_RETURN_NONE;
  }
  return call(a, [&] { return mykernels::add(a, b, alpha); });
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

namespace py = pybind11;

// Finds what the fast path uses; returns how it runs ("dlpack", "dlpack+pyobject") or why it is
// off. Anything missing turns it off, and every call goes to the operator.
std::string find_torch() {
  try {
    const py::module_ torch = py::module_::import("torch");
    const py::module_ C = torch.attr("_C");
    const py::object tensor = torch.attr("Tensor");
    const py::dict members = C.attr("TensorBase").attr("__dict__");
    torch_.tensor = reinterpret_cast<PyTypeObject*>(tensor.ptr());
    torch_.parameter = reinterpret_cast<PyTypeObject*>(torch.attr("nn").attr("Parameter").ptr());
    torch_.requires_grad = py::object(members["requires_grad"]).release().ptr();
    torch_.is_neg = py::object(members["is_neg"]).release().ptr();
    // References kept for the process's lifetime.
    const auto keep = [](py::object object) { return object.release().ptr(); };
    torch_.watchers = {keep(C.attr("_is_torch_function_mode_enabled")),
                       keep(C.attr("_is_any_autocast_enabled")),
                       keep(C.attr("_autograd").attr("_profiler_enabled"))};
    torch_.dispatch_modes = keep(C.attr("_len_torch_dispatch_stack"));
    if (Py_TYPE(torch_.requires_grad)->tp_descr_get == nullptr) {
      return "off: torch.Tensor.requires_grad is not a descriptor";
    }
    const py::object capsule = tensor.attr("__dlpack_c_exchange_api__");
    const auto* api = static_cast<const dlpack::ExchangeApi*>(
        PyCapsule_GetPointer(capsule.ptr(), dlpack::kExchangeApiCapsule));
    if (api == nullptr) {
      PyErr_Clear();
      return "off: torch.Tensor.__dlpack_c_exchange_api__ is not a DLPack exchange API";
    }
    if (api->header.version.major != dlpack::kMajorVersion ||
        api->dltensor_from_py_object_no_sync == nullptr) {
      return "off: torch's DLPack exchange API is version " +
             std::to_string(api->header.version.major) + "." +
             std::to_string(api->header.version.minor) + ", mykernels reads 1.x";
    }
    torch_.dlpack = api;
  } catch (const py::error_already_set& e) {
    return std::string("off: ") + e.what();
  }
  torch_.to_pyobject = torch_symbol<ToPyObject>("libtorch_cpu.so", "torch_tensor_to_pyobject");
  return torch_.to_pyobject != nullptr ? "dlpack+pyobject" : "dlpack";
}

}  // namespace
}  // namespace mykernels

PYBIND11_MODULE(_C, m) {
  m.doc() = "mykernels' compiled operators; import mykernels instead of this module.";
  if (PyModule_AddFunctions(m.ptr(), mykernels::methods) != 0) {
    throw pybind11::error_already_set();
  }
  m.attr("fast_path") = mykernels::find_torch();
  m.attr("cpu_capability") = mykernels::cpu::capability();
#ifdef MYKERNELS_WITH_CUDA
  m.attr("cuda_runtime_version") = mykernels::cuda::compiled_runtime_version();
#else
  m.attr("cuda_runtime_version") = pybind11::none();
#endif
}
