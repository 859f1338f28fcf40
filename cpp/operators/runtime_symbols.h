// Stable C functions of torch that not every supported torch has, or that live in a library not
// every torch has (libtorch_cuda under a CPU-only torch), looked up in the running process instead
// of linked: the op library then loads under every torch from 2.10 on, and uses what it finds.
#pragma once

#include "api.h"

namespace mykernels {

// The function `name` of torch's already-loaded `library` (e.g. "libtorch_cpu.so"), or nullptr.
MYKERNELS_API void* torch_symbol_address(const char* library, const char* name);

template <class Fn>
Fn torch_symbol(const char* library, const char* name) {
  return reinterpret_cast<Fn>(torch_symbol_address(library, name));
}

}  // namespace mykernels
