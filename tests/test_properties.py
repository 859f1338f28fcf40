"""Property-based tests: random shapes, strides, dtypes and values, against torch in float64."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import mykernels
from helpers import DEVICES, DTYPES, assert_matches

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHAPES = st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple)
VIEWS = st.sampled_from(["contiguous", "transposed", "sliced", "expanded", "offset"])
SCALES = st.sampled_from([1e-3, 1.0, 20.0, 1e4])


@st.composite
def tensors(draw, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> torch.Tensor:
    """A tensor of `shape` whose values come from a drawn seed, stored as one of several views."""
    view = draw(VIEWS)
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**63 - 1)))
    scale = draw(SCALES)

    def base(base_shape) -> torch.Tensor:
        values = torch.randn(base_shape, dtype=torch.float64, generator=generator) * scale
        return values.to(dtype).to(device)

    if view == "transposed" and len(shape) >= 2:
        return base((*shape[:-2], shape[-1], shape[-2])).transpose(-1, -2)
    if view == "sliced" and len(shape) >= 1:
        return base((*shape[:-1], 2 * shape[-1]))[..., ::2]
    if view == "expanded" and len(shape) >= 1:
        ones = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
        return base(tuple(1 if one else n for one, n in zip(ones, shape, strict=True))).expand(
            shape
        )
    if view == "offset":
        n = torch.Size(shape).numel()
        return base((n + 1,))[1:].view(shape)
    return base(shape)


def _reference(op: str, *args: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    wide = [a.double() for a in args]
    if op == "square":
        return torch.square(wide[0])
    if op == "add":
        return torch.add(wide[0], wide[1], alpha=alpha)
    return torch.sigmoid(wide[0]) * torch.sigmoid(-wide[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["square", "d_sigmoid"])
@SETTINGS
@given(data=st.data(), shape=SHAPES, dtype=st.sampled_from(DTYPES))
def test_unary_ops(op, device, data, shape, dtype):
    x = data.draw(tensors(shape, dtype, device))
    result = getattr(mykernels, op)(x)
    assert result.shape == x.shape
    assert_matches(result, _reference(op, x), dtype)


@pytest.mark.parametrize("device", DEVICES)
@SETTINGS
@given(
    data=st.data(),
    shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=5),
    dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
    alpha=st.sampled_from([1, -1, 0.5, 3, -2.25]),
)
def test_add(device, data, shapes, dtypes, alpha):
    a = data.draw(tensors(shapes.input_shapes[0], dtypes[0], device))
    b = data.draw(tensors(shapes.input_shapes[1], dtypes[1], device))
    result = mykernels.add(a, b, alpha=alpha)
    assert result.shape == shapes.result_shape
    # Inputs are converted to the result's dtype first, which matters where a 0-dim input is wider.
    dtype = torch.result_type(a, b)
    assert_matches(result, _reference("add", a.to(dtype), b.to(dtype), alpha=alpha), dtype)
