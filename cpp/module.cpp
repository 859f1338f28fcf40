// The Python extension module mykernels._C. Loading it runs the operator registrations of
// ops.cpp; the module holds the public functions' eager fast path (fast_path.cpp) and reports what
// it was compiled with.
#include <pybind11/pybind11.h>

#include "cpu/cpu_kernels.h"
#include "fast_path.h"

#ifdef MYKERNELS_WITH_CUDA
#include "mykernels/cuda_kernels.h"
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "mykernels' compiled operators; import mykernels instead of this module.";
  if (PyModule_AddFunctions(m.ptr(), mykernels::fast_path_methods()) != 0) {
    throw pybind11::error_already_set();
  }
  m.attr("cpu_capability") = mykernels::cpu::capability();
#ifdef MYKERNELS_WITH_CUDA
  m.attr("cuda_runtime_version") = mykernels::cuda::compiled_runtime_version();
#else
  m.attr("cuda_runtime_version") = pybind11::none();
#endif
}
