"""What the tests share: devices, dtypes, the tests' op table, input layouts and the comparison."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

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
# The eager fast path: the binding (mykernels._C) for this interpreter, unless MYKERNELS_FAST_PATH=0.
FAST_PATH = mykernels._binding.module is not None
requires_fast_path = pytest.mark.skipif(
    not FAST_PATH, reason=f"no eager fast path ({mykernels.build_info()['fast_path']})"
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
    """A mykernels op as the tests see it. The tests' op table (OPS below) has one per op, and
    every shared test file runs over it (OP_PARAMS)."""

    name: str
    # The float64 reference: the op's math with torch, on float64 tensors (differentiable, for the
    # gradient tests), taking the float arguments as keywords, with the schema's defaults.
    math: Callable[..., torch.Tensor]
    # torch's own op whose result dtype mykernels' follows (torch.result_type's rules and more).
    like: Callable[..., torch.Tensor]
    # The values of the float arguments the tests pass, in schema order: the first of each is the
    # one fixed tests use (not the default, so that passing one is tested); property tests draw.
    kwarg_choices: dict[str, tuple[float, ...]] = field(default_factory=dict)
    # The input recipe: inputs are normal with this standard deviation.
    scale: float = 3.0

    @property
    def arity(self) -> int:
        return mykernels.ops.OPS[self.name].arity

    @property
    def kwargs(self) -> dict[str, float]:
        return {key: values[0] for key, values in self.kwarg_choices.items()}

    def fn(self, *tensors: torch.Tensor, **kwargs: float) -> torch.Tensor:
        """The public function, mykernels.<name>."""
        return getattr(mykernels, self.name)(*tensors, **(kwargs or self.kwargs))

    def reference(self, *tensors: torch.Tensor, **kwargs: float) -> torch.Tensor:
        return self.math(*tensors, **(kwargs or self.kwargs))

    def fast(self, *tensors: torch.Tensor) -> torch.Tensor | None:
        """The fast-path function itself: the result, or None where it leaves the call to the
        operator."""
        return getattr(mykernels._C, self.name)(*tensors, *self.kwargs.values())

    def operator(self, *tensors: torch.Tensor, **kwargs: float) -> torch.Tensor:
        """The operator, torch.ops.mykernels.<name>."""
        return getattr(torch.ops.mykernels, self.name).default(*tensors, **(kwargs or self.kwargs))

    def inputs(self, shape, dtype=torch.float32, device="cpu", layout="contiguous"):
        """Fresh inputs of `shape` by the op's recipe, stored in `layout` (with_layout)."""
        return [with_layout(layout, shape, dtype, device, self.scale) for _ in range(self.arity)]


OPS = [
    Op("square", lambda x: x * x, torch.square),
    Op(
        "add",
        lambda a, b, alpha=1: a + alpha * b,
        torch.add,
        kwarg_choices={"alpha": (0.75, 1, -1, 0.5, 3, -2.25)},
    ),
    # sigmoid(z) * sigmoid(-z) = s(1 - s), without the cancellation of 1 - s for large z.
    Op("d_sigmoid", lambda z: torch.sigmoid(z) * torch.sigmoid(-z), torch.sigmoid),
]
OP_PARAMS = [pytest.param(op, id=op.name) for op in OPS]
TABLE = {op.name: op for op in OPS}
assert set(TABLE) == set(mykernels.ops.OPS), "the tests' op table must have every op of the build"


def python_calls(monkeypatch) -> list[str]:
    """The names that the ops' Python functions call `mykernels.ops._call` with from now on: one
    per public-function call that the fast path leaves to them."""
    calls: list[str] = []
    call = mykernels.ops._call
    monkeypatch.setattr(
        mykernels.ops, "_call", lambda name, *a, **k: calls.append(name) or call(name, *a, **k)
    )
    return calls


def random(shape, dtype=torch.float32, device="cpu", *, scale: float = 3.0) -> torch.Tensor:
    """Fresh random values, never zeros: normal with standard deviation `scale`."""
    return (torch.randn(shape, dtype=torch.float64, device=device) * scale).to(dtype)


def with_layout(layout: str, shape, dtype, device, scale: float = 3.0) -> torch.Tensor:
    """A random tensor of `shape` stored in one of the layouts the engines must handle."""

    def fresh(base_shape) -> torch.Tensor:
        return random(base_shape, dtype, device, scale=scale)

    shape = tuple(shape) if isinstance(shape, (tuple, list, torch.Size)) else (shape,)
    if layout == "contiguous":
        return fresh(shape)
    if layout == "transposed":
        return fresh(shape[::-1]).mT
    if layout == "channels_last":
        return fresh(shape).contiguous(memory_format=torch.channels_last)
    if layout == "sliced":  # every other element of the last dimension
        return fresh((*shape[:-1], 2 * shape[-1]))[..., ::2]
    if layout == "offset":  # storage offset of one element: breaks 16-byte alignment
        n = int(torch.Size(shape).numel())
        return fresh(n + 1)[1:].view(shape)
    if layout == "expanded":  # zero stride along the first dimension
        return fresh((1, *shape[1:])).expand(shape)
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
