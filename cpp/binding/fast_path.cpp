// The public functions' eager fast path. It uses no C++ API of torch: Python tensors are reached
// through DLPack's C exchange API, which torch publishes on torch.Tensor, and torch's state
// through its Python functions (fast_path.h, found by module.cpp).
//
// Calling an operator through torch.ops costs several microseconds of Python argument parsing and
// dispatch before its kernel starts, more than the kernel of a small tensor takes. square, add and
// d_sigmoid here are raw CPython functions (METH_FASTCALL) that run the operator's implementation
// (operators.h) directly in exactly the case where the dispatcher would reach it without doing
// anything else on the way: plain torch.Tensor arguments (not subclasses) that need no gradient,
// hold no negative bit and are no ZeroTensor, of one supported dtype and device, with no
// TorchFunctionMode, no TorchDispatchMode (user or infrastructure: fake tensors, tracing,
// functionalization), no autocast, no profiler and no torch.jit.trace active. In every other case,
// and whenever the implementation raises, they return None and the Python function
// (python/mykernels/ops.py) calls the operator, so that errors, autograd, modes, subclasses and
// tracing keep their torch behaviour. Tensors that vmap or torch.func wrap have no storage for
// DLPack to export, and decline too.
//
// The result is a torch.Tensor made by torch_tensor_to_pyobject where the running torch has it
// (2.14 and later); before 2.14 it comes through DLPack, and its storage, being borrowed from the
// allocation, cannot be resized (resize_ raises; README).
#include "fast_path.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "operators.h"

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

dlpack::DataType to_dlpack(ScalarType type) {
  for (const auto& [scalar_type, dl] : kDtypes) {
    if (scalar_type == type) {
      return dl;
    }
  }
  return {};  // not reached: the fast path takes only these dtypes
}

std::int64_t numel(const View& v) {
  std::int64_t n = 1;
  for (int d = 0; d < v.ndim; ++d) {
    n *= v.sizes[d];
  }
  return n;
}

// The number of elements of a's and b's broadcast shape (where they do not broadcast, add raises
// and the number does not matter).
std::int64_t broadcast_numel(const View& a, const View& b) {
  std::int64_t n = 1;
  for (int d = 1; d <= std::max(a.ndim, b.ndim); ++d) {
    const std::int64_t size_a = d <= a.ndim ? a.sizes[a.ndim - d] : 1;
    const std::int64_t size_b = d <= b.ndim ? b.sizes[b.ndim - d] : 1;
    n *= size_a == 1 ? size_b : size_a;
  }
  return n;
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
  return t.data != nullptr || numel(view) == 0;
}

// A DLPack tensor that owns a reference to a stable Tensor, for torch before 2.14.
struct Owner {
  dlpack::ManagedTensorVersioned managed;
  Tensor tensor;
};

void delete_owner(dlpack::ManagedTensorVersioned* managed) {
  delete static_cast<Owner*>(managed->manager_ctx);
}

// The Python tensor of `out`, which the fast path computed from inputs like `like`.
PyObject* to_python(Tensor out, const View& like) {
  void* result = nullptr;
  if (torch_.to_pyobject != nullptr) {
    if (torch_.to_pyobject(out.get(), nullptr, &result) != AOTI_TORCH_SUCCESS) {
      Py_RETURN_NONE;
    }
    return static_cast<PyObject*>(result);
  }
  auto* owner = new Owner{{}, std::move(out)};
  const AtenTensorHandle handle = owner->tensor.get();
  std::int64_t* sizes = nullptr;
  std::int64_t* strides = nullptr;
  std::int64_t ndim = 0;
  (void)aoti_torch_get_sizes(handle, &sizes);
  (void)aoti_torch_get_strides(handle, &strides);
  (void)aoti_torch_get_dim(handle, &ndim);
  void* data = nullptr;
  (void)aoti_torch_get_data_ptr(handle, &data);
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

// Runs `impl`, which computes `elements` results like `like`, and wraps its result. The GIL is
// released, as torch's own ops do, for a CUDA launch (it may wait for room in the stream's queue)
// and for CPU work that goes to torch's threads; a small CPU call (fewer than kCpuGrainSize
// elements, on the calling thread) keeps it, as it takes less time than releasing and taking back
// the GIL adds. Returns None instead of raising: the caller then calls the operator,
// which raises the error as torch does.
template <class Impl>
PyObject* call(const View& like, std::int64_t elements, Impl&& impl) {
  std::optional<Tensor> result;
  PyThreadState* state = like.device.kind == DeviceKind::CUDA || elements >= kCpuGrainSize
                             ? PyEval_SaveThread()
                             : nullptr;
  try {
    result.emplace(impl());
  } catch (...) {
    result.reset();
  }
  if (state != nullptr) {
    PyEval_RestoreThread(state);
  }
  if (!result) {
    Py_RETURN_NONE;
  }
  return to_python(std::move(*result), like);
}

// The fast path of a one-tensor op.
template <Tensor (*Impl)(const View&)>
PyObject* unary_fast(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  View x;
  if (nargs != 1 || torch_.dlpack == nullptr ||
      !plain_view(args[0], aoti_torch_grad_mode_is_enabled(), x) || watched()) {
    Py_RETURN_NONE;
  }
  return call(x, numel(x), [&x] { return Impl(x); });
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
  return call(a, broadcast_numel(a, b), [&] { return mykernels::add(a, b, alpha); });
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
    {"square", as_cfunction<unary_fast<mykernels::square>>(), METH_FASTCALL,
     "square($module, x, /)\n--\n\nmykernels.square(x) for a plain tensor, else None."},
    {"add", as_cfunction<add_fast>(), METH_FASTCALL,
     "add($module, a, b, alpha, /)\n--\n\nmykernels.add(a, b, alpha=alpha) for plain tensors, "
     "else None."},
    {"d_sigmoid", as_cfunction<unary_fast<mykernels::d_sigmoid>>(), METH_FASTCALL,
     "d_sigmoid($module, z, /)\n--\n\nmykernels.d_sigmoid(z) for a plain tensor, else None."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace mykernels::fast_path
