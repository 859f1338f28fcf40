// The binding's one path to the kernel libraries: raw operands in, the CPU engine on torch's
// threads or the CUDA engine on torch's current stream. Both the operators (operators.cpp) and the
// eager fast path (fast_path.cpp) end here.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>

#include "cpp/core/layout.h"
#include "cpp/core/ops.h"

namespace mykernels {

enum class DeviceKind : std::int8_t { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  std::int32_t index = -1;  // -1 for the CPU

  bool operator==(const Device&) const = default;
};

// As torch prints it: cpu, cuda:0.
inline std::ostream& operator<<(std::ostream& os, Device device) {
  return device.kind == DeviceKind::CPU ? os << "cpu" : os << "cuda:" << device.index;
}

// Output elements below which a CPU call stays on the calling thread: a small call, which the
// eager fast path also runs without releasing the GIL.
constexpr std::int64_t kCpuGrainSize = 32768;

// One operand of a call: its memory and its strides in elements. The operands of a call share the
// output's shape, dtype and device; a broadcast input has stride 0 along its broadcast dimensions.
struct Operand {
  void* data;
  const std::int64_t* strides;
};

// Writes op(inputs...) into operands[0] from operands[1..]: `ndim` dimensions of `sizes`, all of
// `dtype`, on `device` (its current stream for CUDA). `op_name` names the op in error messages.
template <class Op>
void run_elementwise(const char* op_name, const Op& op, DType dtype, Device device, int ndim,
                     const std::int64_t* sizes,
                     const std::array<Operand, Op::kArity + 1>& operands);

}  // namespace mykernels
