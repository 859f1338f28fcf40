// The CUDA engine (cuda/) on every op, dtype and case of engine_test.h, on the current device.
// Run by CTest on a machine with a GPU (tests/engines/CMakeLists.txt, MYKERNELS_ENGINE_TESTS_CUDA).
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>

#include "cuda/engine.h"
#include "tests/engines/engine_test.h"

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::printf("CUDA error in %s: %s\n", what, cudaGetErrorString(err));
    std::exit(2);
  }
}

struct CudaEngine {
  template <class Op>
  void run(const Op& op, mykernels::DType dtype, const mykernels::Layout<Op::kArity + 1>& layout,
           std::array<std::vector<std::byte>, Op::kArity + 1>& buffers) {
    std::array<void*, Op::kArity + 1> ptrs{};
    for (int k = 0; k <= Op::kArity; ++k) {
      check(cudaMalloc(&ptrs[k], std::max<std::size_t>(buffers[k].size(), 1)), "cudaMalloc");
      check(cudaMemcpy(ptrs[k], buffers[k].data(), buffers[k].size(), cudaMemcpyHostToDevice),
            "cudaMemcpy to the device");
    }
    check(mykernels::cuda::launch_elementwise(op, dtype, layout, ptrs, nullptr), "the launch");
    check(cudaDeviceSynchronize(), "the kernel");
    check(cudaMemcpy(buffers[0].data(), ptrs[0], buffers[0].size(), cudaMemcpyDeviceToHost),
          "cudaMemcpy to the host");
    for (void* p : ptrs) {
      check(cudaFree(p), "cudaFree");
    }
  }
};

}  // namespace

int main() {
  CudaEngine engine;
  return mykernels::engine_test::run_all(engine, "CUDA");
}
