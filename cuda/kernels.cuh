// The CUDA elementwise engine: one templated kernel per access pattern, and its launcher.
// instantiate.cu compiles the launchers of every op of MYKERNELS_FOR_EACH_OP once per storage type
// and access pattern (eight objects that compile in parallel); launch.cu dispatches on the dtype
// and the layout.
//
// - flat_kernel: every operand is one dense run. Each block owns a tile of kThreads * Unroll
//   vectors; a thread issues all of its loads before any arithmetic (memory-level parallelism),
//   with 16-byte vectors when every pointer is 16-byte aligned and scalars otherwise. Large calls
//   take 2 vectors a thread, smaller ones 1, so that they still spread over every SM. The last,
//   partial tile takes an element-by-element path.
// - strided_kernel: anything else (slices, broadcasts, permutations that differ between operands).
//   Offsets come from the merged layout, in 32-bit arithmetic (division by multiplication) when
//   every index and offset fits and in 64-bit otherwise; all loads of a thread go before its
//   stores.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <utility>

#include "cuda/engine.h"

namespace mykernels::cuda {
namespace detail {

// The shape of large flat calls: 128 threads with 2 vectors a thread, the one that reaches
// cudaMemcpy's bandwidth for every op and dtype in the sweep of BENCHMARKS.md ("Tuning the flat
// kernel", benchmarks/flat_kernel_sweep.cu).
constexpr int kThreads = 128;
constexpr int kUnroll = 2;                  // vectors a thread for large flat calls
constexpr std::int64_t kLargeTiles = 1024;  // calls of at least this many full tiles are large
constexpr int kStridedUnroll = 4;           // elements a thread for strided calls
constexpr int kVectorBytes = 16;

// Loads a stored element into the compute type and rounds a result back (round to nearest even).
template <class S>
struct Element {
  using Compute = S;
  static constexpr DType kDType = kDTypeOf<S>;
  static __device__ Compute load(S v) { return v; }
  static __device__ S store(Compute v) { return v; }
};

template <>
struct Element<__half> {
  using Compute = float;
  static constexpr DType kDType = DType::Float16;
  static __device__ float load(__half v) { return __half2float(v); }
  static __device__ __half store(float v) { return __float2half_rn(v); }
};

template <>
struct Element<__nv_bfloat16> {
  using Compute = float;
  static constexpr DType kDType = DType::BFloat16;
  static __device__ float load(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __nv_bfloat16 store(float v) { return __float2bfloat16_rn(v); }
};

template <int N>
struct Pointers {
  void* p[N];
};

template <class S, int Vec>
struct alignas(sizeof(S) * Vec) Vector {
  S v[Vec];
};

// Computes one output element from the inputs' stored values.
template <class Op, class S>
__device__ S compute(const Op& op, const S (&in)[Op::kArity]) {
  using E = Element<S>;
  typename E::Compute args[Op::kArity];
#pragma unroll
  for (int k = 0; k < Op::kArity; ++k) {
    args[k] = E::load(in[k]);
  }
  return E::store(apply_op<E::kDType>(op, args, std::make_index_sequence<Op::kArity>{}));
}

// Threads is kThreads except in benchmarks/flat_kernel_sweep.cu, which times other block sizes.
template <class Op, class S, int Vec, int Unroll, int Threads = kThreads>
__global__ void __launch_bounds__(Threads)
    flat_kernel(Op op, std::int64_t n, Pointers<Op::kArity + 1> ptrs) {
  constexpr int kIn = Op::kArity;
  constexpr std::int64_t kTile = std::int64_t{Threads} * Unroll * Vec;
  using V = Vector<S, Vec>;

  const std::int64_t tile_start = static_cast<std::int64_t>(blockIdx.x) * kTile;
  const std::int64_t remaining = n - tile_start;
  S* out = static_cast<S*>(ptrs.p[0]) + tile_start;
  const S* in[kIn];
#pragma unroll
  for (int k = 0; k < kIn; ++k) {
    in[k] = static_cast<const S*>(ptrs.p[k + 1]) + tile_start;
  }

  if (remaining >= kTile) {
    V loaded[Unroll][kIn];
#pragma unroll
    for (int u = 0; u < Unroll; ++u) {
#pragma unroll
      for (int k = 0; k < kIn; ++k) {
        loaded[u][k] = reinterpret_cast<const V*>(in[k])[u * Threads + threadIdx.x];
      }
    }
#pragma unroll
    for (int u = 0; u < Unroll; ++u) {
      V result;
#pragma unroll
      for (int v = 0; v < Vec; ++v) {
        S args[kIn];
#pragma unroll
        for (int k = 0; k < kIn; ++k) {
          args[k] = loaded[u][k].v[v];
        }
        result.v[v] = compute(op, args);
      }
      reinterpret_cast<V*>(out)[u * Threads + threadIdx.x] = result;
    }
  } else {
    for (std::int64_t i = threadIdx.x; i < remaining; i += Threads) {
      S args[kIn];
#pragma unroll
      for (int k = 0; k < kIn; ++k) {
        args[k] = in[k][i];
      }
      out[i] = compute(op, args);
    }
  }
}

// Division by a divisor fixed at launch. The 32-bit form replaces the division, dozens of
// instructions on the GPU, by a multiply-high, an add and a shift (Granlund and Montgomery,
// "Division by invariant integers using multiplication"): for d in [1, 2^31] with
// shift = ceil(log2 d) and magic = floor(2^32 * (2^shift - d) / d) + 1, n / d equals
// (umulhi(n, magic) + n) >> shift for every n < 2^31.
template <class Index>
struct Divider {
  Index divisor = 1;

  Divider() = default;
  explicit Divider(Index d) : divisor(d) {}
  __device__ Index div(Index n) const { return n / divisor; }
};

template <>
struct Divider<std::int32_t> {
  std::uint32_t divisor = 1;
  std::uint32_t magic = 1;
  std::uint32_t shift = 0;

  Divider() = default;
  explicit Divider(std::int32_t d) : divisor(static_cast<std::uint32_t>(d)) {
    while (shift < 31 && (std::uint32_t{1} << shift) < divisor) {
      ++shift;
    }
    constexpr std::uint64_t kOne = 1;
    magic = static_cast<std::uint32_t>(((kOne << 32) * ((kOne << shift) - divisor)) / divisor + 1);
  }
  __device__ std::int32_t div(std::int32_t n) const {
    const std::uint32_t u = static_cast<std::uint32_t>(n);
    return static_cast<std::int32_t>((__umulhi(u, magic) + u) >> shift);
  }
};

// The merged layout in the index type of the kernel: 32-bit arithmetic where every index and
// offset fits, 64-bit otherwise.
template <class Index, int N>
struct Strides {
  int ndim;
  Index numel;
  Divider<Index> sizes[kMaxDims];
  Index strides[N][kMaxDims];

  explicit Strides(const Layout<N>& layout) : ndim(layout.ndim), numel(Index(layout.numel)) {
    for (int d = 0; d < kMaxDims; ++d) {
      sizes[d] = Divider<Index>(d < layout.ndim ? Index(layout.sizes[d]) : Index(1));
      for (int k = 0; k < N; ++k) {
        strides[k][d] = Index(layout.strides[k][d]);
      }
    }
  }

  // The offset of element i (in the output's order) in each operand. The outermost dimension
  // needs no division: what is left of i is its index there.
  __device__ void offsets(Index i, Index (&out)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) {
      out[k] = 0;
    }
    for (int d = 0; d < ndim - 1; ++d) {
      const Index q = sizes[d].div(i);
      const Index r = i - q * Index(sizes[d].divisor);
      i = q;
#pragma unroll
      for (int k = 0; k < N; ++k) {
        out[k] += r * strides[k][d];
      }
    }
    if (ndim > 0) {
#pragma unroll
      for (int k = 0; k < N; ++k) {
        out[k] += i * strides[k][ndim - 1];
      }
    }
  }
};

// True when every linear index and every element offset of the call fits in 32 bits.
template <int N>
bool fits_32_bits(const Layout<N>& layout) {
  constexpr std::int64_t kMax = INT32_MAX;
  if (layout.numel > kMax) {
    return false;
  }
  for (int k = 0; k < N; ++k) {
    std::int64_t reach = 0;
    for (int d = 0; d < layout.ndim; ++d) {
      const std::int64_t stride = layout.strides[k][d];
      reach += (layout.sizes[d] - 1) * (stride < 0 ? -stride : stride);
    }
    if (reach > kMax) {
      return false;
    }
  }
  return true;
}

// Each thread takes kStridedUnroll elements kThreads apart, and issues the loads of all of them
// before the first store: an input aliases the output only where it is the output, element for
// element (out=, in place), and each element is then read and written by one thread, in that
// order; and the loads of a strided access pattern need all the memory-level parallelism they
// can get.
template <class Op, class S, class Index>
__global__ void __launch_bounds__(kThreads)
    strided_kernel(Op op, Strides<Index, Op::kArity + 1> layout, Pointers<Op::kArity + 1> ptrs) {
  constexpr int kIn = Op::kArity;
  const std::int64_t first =
      static_cast<std::int64_t>(blockIdx.x) * (kThreads * kStridedUnroll) + threadIdx.x;
  S args[kStridedUnroll][kIn];
  Index out_offset[kStridedUnroll];
#pragma unroll
  for (int u = 0; u < kStridedUnroll; ++u) {
    const std::int64_t i = first + u * kThreads;
    if (i < layout.numel) {
      Index offset[kIn + 1];
      layout.offsets(Index(i), offset);
      out_offset[u] = offset[0];
#pragma unroll
      for (int k = 0; k < kIn; ++k) {
        args[u][k] = static_cast<const S*>(ptrs.p[k + 1])[offset[k + 1]];
      }
    }
  }
#pragma unroll
  for (int u = 0; u < kStridedUnroll; ++u) {
    if (first + u * kThreads < layout.numel) {
      static_cast<S*>(ptrs.p[0])[out_offset[u]] = compute(op, args[u]);
    }
  }
}

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// The launchers of one op and storage type: launch_flat for layouts that are one dense run,
// launch_strided for the rest. Each is compiled in objects of its own (instantiate.cu), and
// launch.cu picks one per call.
template <class Op, class S>
cudaError_t launch_strided(const Op& op, const Layout<Op::kArity + 1>& layout,
                           const Pointers<Op::kArity + 1>& ptrs, cudaStream_t stream) {
  const std::int64_t blocks = ceil_div(layout.numel, kThreads * kStridedUnroll);
  if (blocks > INT_MAX) {
    return cudaErrorInvalidValue;
  }
  const auto grid = static_cast<unsigned>(blocks);
  if (fits_32_bits(layout)) {
    strided_kernel<Op, S, std::int32_t>
        <<<grid, kThreads, 0, stream>>>(op, Strides<std::int32_t, Op::kArity + 1>(layout), ptrs);
  } else {
    strided_kernel<Op, S, std::int64_t>
        <<<grid, kThreads, 0, stream>>>(op, Strides<std::int64_t, Op::kArity + 1>(layout), ptrs);
  }
  return cudaGetLastError();
}

template <class Op, class S>
cudaError_t launch_flat(const Op& op, const Layout<Op::kArity + 1>& layout,
                        const Pointers<Op::kArity + 1>& ptrs, cudaStream_t stream) {
  const std::int64_t n = layout.numel;
  constexpr int kVec = kVectorBytes / sizeof(S);
  bool aligned = true;
  for (void* p : ptrs.p) {
    aligned = aligned && reinterpret_cast<std::uintptr_t>(p) % kVectorBytes == 0;
  }
  const int vec = aligned ? kVec : 1;
  const bool large = n >= kLargeTiles * kThreads * kUnroll * vec;
  const std::int64_t blocks = ceil_div(n, std::int64_t{kThreads} * (large ? kUnroll : 1) * vec);
  if (blocks > INT_MAX) {
    return cudaErrorInvalidValue;
  }
  const auto grid = static_cast<unsigned>(blocks);
  if (aligned && large) {
    flat_kernel<Op, S, kVec, kUnroll><<<grid, kThreads, 0, stream>>>(op, n, ptrs);
  } else if (aligned) {
    flat_kernel<Op, S, kVec, 1><<<grid, kThreads, 0, stream>>>(op, n, ptrs);
  } else if (large) {
    flat_kernel<Op, S, 1, kUnroll><<<grid, kThreads, 0, stream>>>(op, n, ptrs);
  } else {
    flat_kernel<Op, S, 1, 1><<<grid, kThreads, 0, stream>>>(op, n, ptrs);
  }
  return cudaGetLastError();
}

// Declares (PREFIX extern) or defines (empty PREFIX) the instantiation of LAUNCHER for OP and S.
#define MYKERNELS_LAUNCHER_INSTANCE(PREFIX, LAUNCHER, OP, S)                            \
  PREFIX template cudaError_t LAUNCHER<OP, S>(const OP&, const Layout<OP::kArity + 1>&, \
                                              const Pointers<OP::kArity + 1>&, cudaStream_t);

}  // namespace detail
}  // namespace mykernels::cuda
