// The op library's C entry point, for a process that loads the library without the binding (the
// Python package without a binding for its interpreter, or a C++ program).
#pragma once

#include "api.h"

extern "C" {

// What this copy of the library holds, as a JSON object, valid for the process's lifetime:
//   "ops"                   each op's name and how its result dtype follows from its inputs'
//                           ("common" or "integer_to_float": Promotion, cpp/core/ops.h)
//   "cpu_capability"        the CPU engine's instruction set on this CPU ("avx512", "avx2",
//                           "default")
//   "cuda_runtime_version"  CUDART_VERSION of the CUDA kernels (13000 for 13.0), or null for a
//                           build without them
MYKERNELS_API const char* mykernels_library_info(void);
}
