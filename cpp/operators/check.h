// User errors of the binding. A failed check throws std::runtime_error, which torch turns into a
// Python RuntimeError carrying exactly the message: the op's name, what was expected, what was
// given and, where there is one, what to do. (STD_TORCH_CHECK, the stable ABI's own, would put
// the C++ function, file and line in front of every user's message.)
#pragma once

#include <cstdint>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace mykernels {

[[noreturn]] void throw_error(const std::ostringstream& message);

template <class... Args>
[[noreturn]] void fail(const Args&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw_error(message);
}

// The message of torch's last error on this thread, where the running torch can say (2.13 and
// later), else a pointer to the message torch printed to standard error.
const char* last_torch_error();

// A shape for messages: [2, 3].
struct Sizes {
  const std::int64_t* data;
  std::int64_t ndim;
};
std::ostream& operator<<(std::ostream& os, Sizes sizes);

}  // namespace mykernels

// The message's parts are evaluated only when the check fails.
#define MYKERNELS_CHECK(cond, ...)    \
  do {                                \
    if (!(cond)) [[unlikely]] {       \
      ::mykernels::fail(__VA_ARGS__); \
    }                                 \
  } while (false)
