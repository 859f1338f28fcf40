// The shape of the flat CUDA kernel (threads a block, vectors a thread) against cudaMemcpy, for
// square and d_sigmoid in float32 and bfloat16: the sweep behind kThreads and kUnroll in
// cuda/kernels.cuh. On a CUDA machine, from the repository root:
//
//   nvcc -std=c++20 -O3 -arch=sm_90 -I. -o flat_kernel_sweep \
//       benchmarks/flat_kernel_sweep.cu && ./flat_kernel_sweep
//
// Each variant runs 20 back-to-back calls a round, in alternation with the others; the figure is
// the median of 15 rounds, and "of memcpy" is cudaMemcpyAsync's time over the variant's.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "cuda/kernels.cuh"

namespace {

using mykernels::DSigmoid;
using mykernels::Square;
using mykernels::cuda::detail::flat_kernel;
using mykernels::cuda::detail::kVectorBytes;
using mykernels::cuda::detail::Pointers;

using Launch = void (*)(std::int64_t n, const void* in, void* out, cudaStream_t stream);

struct Variant {
  const char* name;
  Launch launch;  // nullptr: cudaMemcpyAsync
};

template <class Op, class S, int Threads, int Unroll>
void launch(std::int64_t n, const void* in, void* out, cudaStream_t stream) {
  constexpr int kVec = kVectorBytes / sizeof(S);
  constexpr std::int64_t kTile = std::int64_t{Threads} * Unroll * kVec;
  Pointers<2> ptrs{{out, const_cast<void*>(in)}};
  const auto blocks = static_cast<unsigned>((n + kTile - 1) / kTile);
  flat_kernel<Op, S, kVec, Unroll, Threads><<<blocks, Threads, 0, stream>>>(Op{}, n, ptrs);
}

template <class Op, class S>
bool sweep(const char* op_name, const char* dtype_name, int log2n) {
  const std::int64_t n = std::int64_t{1} << log2n;
  const std::size_t bytes = n * sizeof(S);
  void* in = nullptr;
  void* out = nullptr;
  if (cudaMalloc(&in, bytes) != cudaSuccess || cudaMalloc(&out, bytes) != cudaSuccess) {
    std::printf("cudaMalloc of %zu bytes failed: %s\n", bytes,
                cudaGetErrorString(cudaGetLastError()));
    (void)cudaFree(in);
    return false;
  }
  (void)cudaMemset(in, 0x3c, bytes);  // 1.18 in float32, 0.0114 in bfloat16: never zeros
  cudaStream_t stream = nullptr;
  (void)cudaStreamCreate(&stream);
  const std::vector<Variant> variants = {
      {"cudaMemcpyAsync", nullptr},
      {"128 threads x 1", launch<Op, S, 128, 1>},
      {"128 threads x 2", launch<Op, S, 128, 2>},
      {"128 threads x 4", launch<Op, S, 128, 4>},
      {"256 threads x 1", launch<Op, S, 256, 1>},
      {"256 threads x 2", launch<Op, S, 256, 2>},
      {"256 threads x 4", launch<Op, S, 256, 4>},
      {"512 threads x 1", launch<Op, S, 512, 1>},
      {"512 threads x 2", launch<Op, S, 512, 2>},
  };
  constexpr int kRounds = 15;
  constexpr int kCalls = 20;
  std::vector<std::vector<float>> times(variants.size());
  cudaEvent_t start = nullptr;
  cudaEvent_t end = nullptr;
  (void)cudaEventCreate(&start);
  (void)cudaEventCreate(&end);
  for (int round = -2; round < kRounds; ++round) {  // two rounds of warm-up
    for (std::size_t v = 0; v < variants.size(); ++v) {
      (void)cudaEventRecord(start, stream);
      for (int call = 0; call < kCalls; ++call) {
        if (variants[v].launch == nullptr) {
          (void)cudaMemcpyAsync(out, in, bytes, cudaMemcpyDeviceToDevice, stream);
        } else {
          variants[v].launch(n, in, out, stream);
        }
      }
      (void)cudaEventRecord(end, stream);
      (void)cudaEventSynchronize(end);
      float ms = 0;
      (void)cudaEventElapsedTime(&ms, start, end);
      if (round >= 0) {
        times[v].push_back(ms * 1000 / kCalls);
      }
    }
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    std::printf("CUDA error: %s\n", cudaGetErrorString(err));
  }
  float memcpy_us = 0;
  for (std::size_t v = 0; v < variants.size(); ++v) {
    std::sort(times[v].begin(), times[v].end());
    const float us = times[v][kRounds / 2];
    memcpy_us = v == 0 ? us : memcpy_us;
    std::printf("%-9s %-8s 2^%d  %-16s %9.2f us %6.0f GB/s  of memcpy %.3f\n", op_name, dtype_name,
                log2n, variants[v].name, us, 2.0 * bytes / us / 1e3, memcpy_us / us);
  }
  (void)cudaEventDestroy(start);
  (void)cudaEventDestroy(end);
  (void)cudaStreamDestroy(stream);
  (void)cudaFree(in);
  (void)cudaFree(out);
  return err == cudaSuccess;
}

}  // namespace

int main() {
  bool ok = true;
  for (const int log2n : {20, 26, 28}) {
    ok = sweep<Square, float>("square", "float32", log2n) && ok;
    ok = sweep<DSigmoid, float>("d_sigmoid", "float32", log2n) && ok;
    ok = sweep<Square, __nv_bfloat16>("square", "bfloat16", log2n) && ok;
    ok = sweep<DSigmoid, __nv_bfloat16>("d_sigmoid", "bfloat16", log2n) && ok;
  }
  return ok ? 0 : 1;
}
