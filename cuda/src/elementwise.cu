// The CUDA elementwise engine: one templated kernel per access pattern, instantiated for every op
// of MYKERNELS_FOR_EACH_OP and every dtype.
//
// - flat_kernel: every operand is one dense run. Each block owns a tile of kThreads * kUnroll
//   vectors; a thread issues all of its loads before any arithmetic (memory-level parallelism),
//   with 16-byte vectors when every pointer is 16-byte aligned and scalars otherwise. The last,
//   partial tile takes an element-by-element path.
// - strided_kernel: anything else (slices, broadcasts, permutations that differ between operands).
//   Offsets come from the merged layout, with 64-bit indices throughout.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <utility>

#include "mykernels/cuda_kernels.h"

namespace mykernels::cuda {
namespace detail {

constexpr int kThreads = 128;
constexpr int kUnroll = 4;
constexpr int kVectorBytes = 16;

// Loads a stored element into the compute type and rounds a result back (round to nearest even).
template <class S>
struct Element {
  using Compute = S;
  static __device__ Compute load(S v) { return v; }
  static __device__ S store(Compute v) { return v; }
};

template <>
struct Element<__half> {
  using Compute = float;
  static __device__ float load(__half v) { return __half2float(v); }
  static __device__ __half store(float v) { return __float2half_rn(v); }
};

template <>
struct Element<__nv_bfloat16> {
  using Compute = float;
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

template <class Op, class C, std::size_t... I>
__device__ C apply(const Op& op, const C (&args)[sizeof...(I)], std::index_sequence<I...>) {
  return op(args[I]...);
}

// Computes one output element from the inputs' stored values.
template <class Op, class S>
__device__ S compute(const Op& op, const S (&in)[Op::kArity]) {
  using E = Element<S>;
  typename E::Compute args[Op::kArity];
#pragma unroll
  for (int k = 0; k < Op::kArity; ++k) {
    args[k] = E::load(in[k]);
  }
  return E::store(apply(op, args, std::make_index_sequence<Op::kArity>{}));
}

template <class Op, class S, int Vec>
__global__ void __launch_bounds__(kThreads)
    flat_kernel(Op op, std::int64_t n, Pointers<Op::kArity + 1> ptrs) {
  constexpr int kIn = Op::kArity;
  constexpr std::int64_t kTile = std::int64_t{kThreads} * kUnroll * Vec;
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
    V loaded[kUnroll][kIn];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int k = 0; k < kIn; ++k) {
        loaded[u][k] = reinterpret_cast<const V*>(in[k])[u * kThreads + threadIdx.x];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
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
      reinterpret_cast<V*>(out)[u * kThreads + threadIdx.x] = result;
    }
  } else {
    for (std::int64_t i = threadIdx.x; i < remaining; i += kThreads) {
      S args[kIn];
#pragma unroll
      for (int k = 0; k < kIn; ++k) {
        args[k] = in[k][i];
      }
      out[i] = compute(op, args);
    }
  }
}

template <class Op, class S>
__global__ void __launch_bounds__(kThreads)
    strided_kernel(Op op, Layout<Op::kArity + 1> layout, Pointers<Op::kArity + 1> ptrs) {
  constexpr int kIn = Op::kArity;
  const std::int64_t first =
      static_cast<std::int64_t>(blockIdx.x) * (kThreads * kUnroll) + threadIdx.x;
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const std::int64_t i = first + u * kThreads;
    if (i < layout.numel) {
      std::int64_t offset[kIn + 1];
      layout.offsets(i, offset);
      S args[kIn];
#pragma unroll
      for (int k = 0; k < kIn; ++k) {
        args[k] = static_cast<const S*>(ptrs.p[k + 1])[offset[k + 1]];
      }
      static_cast<S*>(ptrs.p[0])[offset[0]] = compute(op, args);
    }
  }
}

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

template <class Op, class S>
cudaError_t launch_typed(const Op& op, const Layout<Op::kArity + 1>& layout,
                         const Pointers<Op::kArity + 1>& ptrs, cudaStream_t stream) {
  const std::int64_t n = layout.numel;
  if (n == 0) {
    return cudaSuccess;
  }
  constexpr int kVec = kVectorBytes / sizeof(S);
  std::int64_t blocks = 0;
  if (!layout.is_flat()) {
    blocks = ceil_div(n, kThreads * kUnroll);
    if (blocks > INT_MAX) {
      return cudaErrorInvalidValue;
    }
    strided_kernel<Op, S><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(op, layout, ptrs);
    return cudaGetLastError();
  }
  bool aligned = true;
  for (void* p : ptrs.p) {
    aligned = aligned && reinterpret_cast<std::uintptr_t>(p) % kVectorBytes == 0;
  }
  const int vec = aligned ? kVec : 1;
  blocks = ceil_div(n, std::int64_t{kThreads} * kUnroll * vec);
  if (blocks > INT_MAX) {
    return cudaErrorInvalidValue;
  }
  if (aligned) {
    flat_kernel<Op, S, kVec><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(op, n, ptrs);
  } else {
    flat_kernel<Op, S, 1><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(op, n, ptrs);
  }
  return cudaGetLastError();
}

}  // namespace detail

template <class Op>
cudaError_t launch_elementwise(const Op& op, DType dtype, const Layout<Op::kArity + 1>& layout,
                               const std::array<void*, Op::kArity + 1>& ptrs, cudaStream_t stream) {
  detail::Pointers<Op::kArity + 1> p{};
  for (int k = 0; k <= Op::kArity; ++k) {
    p.p[k] = ptrs[k];
  }
  switch (dtype) {
    case DType::Float32:
      return detail::launch_typed<Op, float>(op, layout, p, stream);
    case DType::Float64:
      return detail::launch_typed<Op, double>(op, layout, p, stream);
    case DType::Float16:
      return detail::launch_typed<Op, __half>(op, layout, p, stream);
    case DType::BFloat16:
      return detail::launch_typed<Op, __nv_bfloat16>(op, layout, p, stream);
  }
  return cudaErrorInvalidValue;
}

#define MYKERNELS_INSTANTIATE(OP)                                                              \
  template cudaError_t launch_elementwise<OP>(const OP&, DType, const Layout<OP::kArity + 1>&, \
                                              const std::array<void*, OP::kArity + 1>&,        \
                                              cudaStream_t);
MYKERNELS_FOR_EACH_OP(MYKERNELS_INSTANTIATE)
#undef MYKERNELS_INSTANTIATE

int compiled_runtime_version() { return CUDART_VERSION; }

cudaError_t device_arch(int device, int* arch) {
  int major = 0;
  int minor = 0;
  cudaError_t err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err == cudaSuccess) {
    err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  }
  *arch = major * 10 + minor;
  return err;
}

}  // namespace mykernels::cuda
