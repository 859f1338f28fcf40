// The binding's small shared helpers: errors (check.h) and torch's optional functions
// (runtime_symbols.h).
#include <dlfcn.h>

#include "check.h"
#include "runtime_symbols.h"

namespace mykernels {

void throw_error(const std::ostringstream& message) { throw std::runtime_error(message.str()); }

const char* last_torch_error() {
  // torch_exception_get_what_without_backtrace is part of the stable ABI from torch 2.13 on, so
  // it is looked up rather than linked.
  static const auto get_what = torch_symbol<const char* (*)()>(
      "libtorch_cpu.so", "torch_exception_get_what_without_backtrace");
  const char* what = get_what != nullptr ? get_what() : nullptr;
  return what != nullptr ? what : "(torch printed the reason above)";
}

void* torch_symbol_address(const char* library, const char* name) {
  // RTLD_NOLOAD: only a library torch has loaded already; the handle's reference is kept for the
  // process's lifetime, as torch's are.
  void* handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD);
  return handle == nullptr ? nullptr : dlsym(handle, name);
}

std::ostream& operator<<(std::ostream& os, Sizes sizes) {
  os << '[';
  for (std::int64_t d = 0; d < sizes.ndim; ++d) {
    os << (d == 0 ? "" : ", ") << sizes.data[d];
  }
  return os << ']';
}

}  // namespace mykernels
