// The Python extension module mykernels._C, the binding: the public functions' eager fast path
// (fast_path.cpp), which runs the op library's implementations (cpp/operators); this file finds
// what that path uses of torch. The op library is loaded first (python/mykernels/_library.py): the
// module NEEDs it, and finds it loaded.
//
// This file runs once, at import: it is the only one that uses pybind11, and the only one
// compiled at -O1 (cpp/binding/CMakeLists.txt), as pybind11's headers cost seconds more
// to optimize than the code here ever runs.
#include <pybind11/pybind11.h>

#include <cstdio>
#include <string>

#include "cpp/operators/runtime_symbols.h"
#include "fast_path.h"

namespace mykernels {
namespace {

namespace py = pybind11;

// Finds what the fast path uses; returns how it runs ("dlpack+pyobject", "dlpack+aoti") or why it
// is off. Anything missing turns it off, and every call goes to the operator.
std::string find_torch() {
  fast_path::Torch found;
  try {
    const py::module_ torch = py::module_::import("torch");
    const py::module_ C = torch.attr("_C");
    const py::object tensor = torch.attr("Tensor");
    const py::dict members = C.attr("TensorBase").attr("__dict__");
    found.tensor = reinterpret_cast<PyTypeObject*>(tensor.ptr());
    found.parameter = reinterpret_cast<PyTypeObject*>(torch.attr("nn").attr("Parameter").ptr());
    const py::object requires_grad = members["requires_grad"];
    const py::object is_neg = members["is_neg"];
    if (!Py_IS_TYPE(requires_grad.ptr(), &PyGetSetDescr_Type)) {
      return "off: torch.Tensor.requires_grad is not a getset descriptor";
    }
    const PyGetSetDef* getset =
        reinterpret_cast<PyGetSetDescrObject*>(requires_grad.ptr())->d_getset;
    found.requires_grad = getset->get;
    found.requires_grad_closure = getset->closure;
    if (!Py_IS_TYPE(is_neg.ptr(), &PyMethodDescr_Type) ||
        reinterpret_cast<PyMethodDescrObject*>(is_neg.ptr())->d_method->ml_flags != METH_NOARGS) {
      return "off: torch.Tensor.is_neg is not a method of no argument";
    }
    found.is_neg = reinterpret_cast<PyMethodDescrObject*>(is_neg.ptr())->d_method->ml_meth;
    const py::object is_inference = members["is_inference"];
    if (!Py_IS_TYPE(is_inference.ptr(), &PyMethodDescr_Type) ||
        reinterpret_cast<PyMethodDescrObject*>(is_inference.ptr())->d_method->ml_flags !=
            METH_NOARGS) {
      return "off: torch.Tensor.is_inference is not a method of no argument";
    }
    found.is_inference =
        reinterpret_cast<PyMethodDescrObject*>(is_inference.ptr())->d_method->ml_meth;
    // References kept for the process's lifetime.
    const auto keep = [](py::object object) { return object.release().ptr(); };
    // A key of a module's dict, interned as the module's own names are, so that a lookup finds
    // it by identity.
    const auto key = [](const char* name) {
      PyObject* interned = PyUnicode_InternFromString(name);
      if (interned == nullptr) {
        throw py::error_already_set();
      }
      return py::reinterpret_steal<py::str>(interned);
    };
    found.watchers = {fast_path::NoArgs(keep(C.attr("_is_torch_function_mode_enabled"))),
                      fast_path::NoArgs(keep(C.attr("_is_any_autocast_enabled"))),
                      fast_path::NoArgs(keep(C.attr("_is_tracing")))};
    found.increment_version = fast_path::OneArg(keep(C.attr("_increment_version")));
    // An empty tuple tells, touching no tensor.
    if (PyObject* none = found.increment_version(py::tuple().ptr()); none != nullptr) {
      Py_DECREF(none);
      found.versions_of_tuple = true;
    } else {
      PyErr_Clear();
    }
    found.profiling = fast_path::NoArgs(keep(C.attr("_autograd").attr("_profiler_enabled")));
    const py::dict profiler = py::module_::import("torch.autograd.profiler").attr("__dict__");
    const py::str flag = key("_is_profiler_enabled");
    if (profiler.contains(flag) && PyBool_Check(py::object(profiler[flag]).ptr())) {
      found.profiler_module = keep(profiler);
      found.profiler_flag = keep(flag);
    }
    const py::dict forward_ad = py::module_::import("torch.autograd.forward_ad").attr("__dict__");
    const py::str level = key("_current_level");
    if (!forward_ad.contains(level) || !PyLong_CheckExact(py::object(forward_ad[level]).ptr())) {
      return "off: torch.autograd.forward_ad has no _current_level to tell when tangents flow";
    }
    found.forward_ad_module = keep(forward_ad);
    found.forward_ad_level = keep(level);
    found.dispatch_modes = fast_path::NoArgs(keep(C.attr("_len_torch_dispatch_stack")));
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
    found.dlpack = api;
    found.to_pyobject =
        torch_symbol<fast_path::ToPyObject>("libtorch_cpu.so", "torch_tensor_to_pyobject");
    if (found.to_pyobject == nullptr) {
      // Only where its behaviour is known: torch 2.10 to 2.13, whose function returns a new
      // reference and leaves the handle to mykernels (fast_path.h). A later torch has
      // torch_tensor_to_pyobject.
      const auto version = torch.attr("__version__").cast<std::string>();
      int major = 0;
      int minor = 0;
      if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2 || major != 2 || minor < 10 ||
          minor > 13) {
        return "off: torch " + version +
               " has no torch_tensor_to_pyobject to hand a result to Python";
      }
      found.from_handle = keep(C.attr("_aoti").attr("alloc_tensor_by_stealing_from_void_ptr"));
    }
  } catch (const py::error_already_set& e) {
    return std::string("off: ") + e.what();
  }
  fast_path::install(found);
  return found.to_pyobject != nullptr ? "dlpack+pyobject" : "dlpack+aoti";
}

}  // namespace
}  // namespace mykernels

// The module keeps no state that calls change: what find_torch finds is written once, at import,
// and the public functions are made once (fast_path.cpp), so a free-threaded interpreter (3.14t)
// runs it without the GIL.
PYBIND11_MODULE(_C, m, pybind11::mod_gil_not_used()) {
  m.doc() = "mykernels' eager fast path; import mykernels instead of this module.";
  if (PyModule_AddFunctions(m.ptr(), mykernels::fast_path::methods) != 0) {
    throw pybind11::error_already_set();
  }
  m.attr("fast_path") = mykernels::find_torch();
}
