"""Property-based tests: random shapes, strides, dtypes and values, against torch in float64."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from helpers import DEVICES, DTYPES, OP_PARAMS, assert_matches

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
@SETTINGS
@given(data=st.data())
def test_op(op, device, data):
    shapes = data.draw(
        mutually_broadcastable_shapes(num_shapes=op.arity, min_side=0, max_dims=4, max_side=5)
    )
    inputs = [
        data.draw(tensors(shape, data.draw(st.sampled_from(DTYPES)), device))
        for shape in shapes.input_shapes
    ]
    kwargs = {key: data.draw(st.sampled_from(values)) for key, values in op.kwarg_choices.items()}
    result = op.fn(*inputs, **kwargs)
    assert result.shape == shapes.result_shape
    # Inputs are converted to the result's dtype first, which matters where a 0-dim input is wider.
    dtype = op.like(*inputs).dtype
    assert_matches(result, op.math(*(x.to(dtype).double() for x in inputs), **kwargs), dtype)
