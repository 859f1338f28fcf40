// What the op library (libmykernels.so) exports: the C function mykernels_library_info
// (library_info.h) and what the binding calls (operators.h, runtime_symbols.h, check.h). Every
// other symbol of the library is hidden (cpp/operators/CMakeLists.txt).
#pragma once

#define MYKERNELS_API __attribute__((visibility("default")))
