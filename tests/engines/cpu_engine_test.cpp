// The CPU engine (cpp/cpu) on every op, dtype and case of engine_test.h, each call split into
// three ranges of output elements as the binding's threads split it. Run by CTest.
#include <algorithm>

#include "cpp/cpu/engine.h"
#include "tests/engines/engine_test.h"

namespace {

struct CpuEngine {
  template <class Op>
  void run(const Op& op, mykernels::DType dtype, const mykernels::Layout<Op::kArity + 1>& layout,
           std::array<std::vector<std::byte>, Op::kArity + 1>& buffers) {
    std::array<void*, Op::kArity + 1> ptrs;
    for (int k = 0; k <= Op::kArity; ++k) {
      ptrs[k] = buffers[k].data();
    }
    // Ranges that start and end inside the innermost dimension and inside vectors.
    const std::int64_t n = layout.numel;
    const std::int64_t cuts[] = {0, std::min<std::int64_t>(n, n / 3 + 1),
                                 std::min<std::int64_t>(n, 2 * n / 3 + 5), n};
    for (int i = 0; i < 3; ++i) {
      mykernels::cpu::run_elementwise(op, dtype, layout, ptrs, cuts[i], cuts[i + 1]);
    }
  }
};

}  // namespace

int main() {
  CpuEngine engine;
  return mykernels::engine_test::run_all(engine, mykernels::cpu::capability());
}
