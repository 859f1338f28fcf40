#include "library_info.h"

#include <string>

#include "cpp/core/ops.h"
#include "cpp/cpu/engine.h"

#ifdef MYKERNELS_WITH_CUDA
#include "cuda/engine.h"
#endif

namespace mykernels {
namespace {

const char* promotion_name(Promotion promotion) {
  switch (promotion) {
    case Promotion::kCommon:
      return "common";
    case Promotion::kIntegerToFloat:
      return "integer_to_float";
  }
  return "unknown";
}

std::string library_info() {
  std::string ops;
#define MYKERNELS_EXPORT(OP)                                                  \
  ops += std::string(ops.empty() ? "" : ", ") + "\"" + OP::kName + "\": \"" + \
         promotion_name(OP::kPromotion) + "\"";
  MYKERNELS_FOR_EACH_OP(MYKERNELS_EXPORT)
#undef MYKERNELS_EXPORT
#ifdef MYKERNELS_WITH_CUDA
  const std::string cuda = std::to_string(cuda::compiled_runtime_version());
#else
  const std::string cuda = "null";
#endif
  return "{\"ops\": {" + ops + "}, \"cpu_capability\": \"" + cpu::capability() +
         "\", \"cuda_runtime_version\": " + cuda + "}";
}

}  // namespace
}  // namespace mykernels

extern "C" const char* mykernels_library_info(void) {
  static const std::string info = mykernels::library_info();
  return info.c_str();
}
