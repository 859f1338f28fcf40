"""What the tests share: devices, dtypes, the op table, input layouts and the comparison."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

import mykernels

BUILT_WITH_CUDA = mykernels.build_info()["cuda"] is not None
HAS_GPU = torch.cuda.is_available()
# On the GPU machine, MYKERNELS_TEST_REQUIRE_CUDA=1 turns a skipped CUDA test into a failure.
if os.environ.get("MYKERNELS_TEST_REQUIRE_CUDA") == "1" and not (HAS_GPU and BUILT_WITH_CUDA):
    raise RuntimeError("MYKERNELS_TEST_REQUIRE_CUDA=1, but there is no GPU or no CUDA build")

requires_cuda = pytest.mark.skipif(
    not (HAS_GPU and BUILT_WITH_CUDA),
    reason="no CUDA GPU" if not HAS_GPU else "this build of mykernels has no CUDA kernels",
)
requires_two_gpus = pytest.mark.skipif(
    not (HAS_GPU and BUILT_WITH_CUDA and torch.cuda.device_count() >= 2), reason="needs two GPUs"
)

DEVICES = ["cpu", pytest.param("cuda", marks=requires_cuda)]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]

# Sizes that hit every path of the engines: empty, one element, around the CUDA vector widths (2, 4
# and 8 elements) and tile sizes (512 float32 / 1024 float16 elements a block for smaller calls,
# 2x that from 2^20 float32 / 2^21 float16 elements on), and large.
SIZES = [
    0,
    1,
    2,
    3,
    7,
    8,
    9,
    15,
    17,
    31,
    33,
    127,
    511,
    513,
    2047,
    2049,
    4097,
    1 << 20,
    (1 << 22) + 3,
]


@dataclass(frozen=True)
class Op:
    """A mykernels op, its float64 reference and how many tensor inputs it takes."""

    name: str
    fn: Callable[..., torch.Tensor]
    reference: Callable[..., torch.Tensor]
    arity: int


ALPHA = 0.75
OPS = [
    Op("square", mykernels.square, torch.square, 1),
    Op("add", lambda a, b: mykernels.add(a, b, alpha=ALPHA), lambda a, b: a + ALPHA * b, 2),
    # sigmoid(z) * sigmoid(-z) = s(1 - s), without the cancellation of 1 - s for large z.
    Op("d_sigmoid", mykernels.d_sigmoid, lambda z: torch.sigmoid(z) * torch.sigmoid(-z), 1),
]
OP_PARAMS = [pytest.param(op, id=op.name) for op in OPS]


def random(shape, dtype=torch.float32, device="cpu", *, scale: float = 3.0) -> torch.Tensor:
    """Fresh random values, never zeros: normal with standard deviation `scale`."""
    return (torch.randn(shape, dtype=torch.float64, device=device) * scale).to(dtype)


def with_layout(layout: str, shape, dtype, device) -> torch.Tensor:
    """A random tensor of `shape` stored in one of the layouts the engines must handle."""
    if layout == "contiguous":
        return random(shape, dtype, device)
    if layout == "transposed":
        return random(shape[::-1], dtype, device).mT
    if layout == "channels_last":
        return random(shape, dtype, device).contiguous(memory_format=torch.channels_last)
    if layout == "sliced":  # every other element of the last dimension
        return random((*shape[:-1], 2 * shape[-1]), dtype, device)[..., ::2]
    if layout == "offset":  # storage offset of one element: breaks 16-byte alignment
        n = int(torch.Size(shape).numel())
        return random(n + 1, dtype, device)[1:].view(shape)
    if layout == "expanded":  # zero stride along the first dimension
        return random((1, *shape[1:]), dtype, device).expand(shape)
    raise ValueError(layout)


LAYOUT_SHAPES = {
    "contiguous": (37, 129),
    "transposed": (129, 37),
    "channels_last": (3, 5, 7, 11),
    "sliced": (37, 65),
    "offset": (37, 129),
    "expanded": (37, 129),
}


def assert_matches(result: torch.Tensor, expected64: torch.Tensor, dtype: torch.dtype) -> None:
    """result (of `dtype`) equals the float64 reference rounded to `dtype`, within torch's default
    tolerance for that dtype."""
    assert result.dtype == dtype
    assert result.shape == expected64.shape
    torch.testing.assert_close(result, expected64.to(dtype), equal_nan=True)
