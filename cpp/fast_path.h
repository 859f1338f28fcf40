// The eager fast path of the public functions: raw CPython functions for the module mykernels._C.
#pragma once

#include <Python.h>

namespace mykernels {

// The functions square, add and d_sigmoid and an empty end entry, for PyModule_AddFunctions.
PyMethodDef* fast_path_methods();

}  // namespace mykernels
