// Shapes and strides of one elementwise call, shared by the CPU and the CUDA engines.
//
// Operand 0 is the output, operands 1..N-1 the inputs; all have the output's shape (a broadcast
// input has stride 0 along the broadcast dimensions). make_layout drops size-1 dimensions, orders
// the rest by the output's strides and merges dimensions that are contiguous in every operand, so
// a call on dense tensors with matching strides (contiguous, transposed, channels_last) becomes
// one flat run over memory, and everything else keeps as few dimensions as its strides allow.
#pragma once

#include <cstdint>

#include "cpp/core/host_device.h"

namespace mykernels {

// Most dimensions an engine walks after merging. A call that needs more is run by the caller on
// contiguous copies of its operands.
inline constexpr int kMaxDims = 8;
// Most dimensions make_layout accepts before merging (PyTorch allows 64).
inline constexpr int kMaxInputDims = 64;

enum class DType : std::int8_t { Float32, Float64, Float16, BFloat16 };

// Bytes an element of `dtype` takes.
constexpr std::int64_t dtype_size(DType dtype) {
  return dtype == DType::Float64 ? 8 : dtype == DType::Float32 ? 4 : 2;
}

template <int N>
struct Layout {
  int ndim = 0;            // dimensions after merging, innermost first; 0 for a single element
  std::int64_t numel = 0;  // elements of the output
  std::int64_t sizes[kMaxDims] = {};
  std::int64_t strides[N][kMaxDims] = {};  // in elements

  // True when every operand is one dense run of numel elements: the engines' fast path.
  MYKERNELS_HOST_DEVICE bool is_flat() const {
    if (ndim == 0) {
      return true;
    }
    if (ndim > 1) {
      return false;
    }
    for (int k = 0; k < N; ++k) {
      if (strides[k][0] != 1) {
        return false;
      }
    }
    return true;
  }
};

// Builds the layout of a call whose operands have the shape sizes[0..ndim) (outermost first, as
// PyTorch stores it) and the strides strides[k][0..ndim). Returns false, leaving `layout`
// unspecified, when more than kMaxDims dimensions remain after merging.
template <int N>
[[nodiscard]] bool make_layout(int ndim, const std::int64_t* sizes,
                               const std::int64_t* const (&strides)[N], Layout<N>& layout) {
  layout = Layout<N>{};
  if (ndim > kMaxInputDims) {
    return false;
  }
  layout.numel = 1;
  // Dimensions of size > 1, innermost first.
  int order[kMaxInputDims];
  int kept = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    layout.numel *= sizes[d];
    if (sizes[d] != 1) {
      order[kept++] = d;
    }
  }
  // Order by the output's strides, smallest first (insertion sort: few dimensions, stable).
  for (int i = 1; i < kept; ++i) {
    const int d = order[i];
    int j = i;
    while (j > 0 && strides[0][order[j - 1]] > strides[0][d]) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = d;
  }
  // Merge each dimension into the previous one where every operand allows it.
  int out_dims = 0;
  for (int i = 0; i < kept; ++i) {
    const int d = order[i];
    if (out_dims > 0) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k) {
        const int p = out_dims - 1;
        if (strides[k][d] != layout.strides[k][p] * layout.sizes[p]) {
          mergeable = false;
          break;
        }
      }
      if (mergeable) {
        layout.sizes[out_dims - 1] *= sizes[d];
        continue;
      }
    }
    if (out_dims == kMaxDims) {
      return false;
    }
    layout.sizes[out_dims] = sizes[d];
    for (int k = 0; k < N; ++k) {
      layout.strides[k][out_dims] = strides[k][d];
    }
    ++out_dims;
  }
  layout.ndim = out_dims;
  return true;
}

}  // namespace mykernels
