"""What every op must do, on every device and dtype: the op table in helpers.py drives it."""

from __future__ import annotations

import inspect

import pytest
import torch

import mykernels
from helpers import (
    DEVICES,
    DTYPES,
    LAYOUT_SHAPES,
    OP_PARAMS,
    SIZES,
    assert_matches,
    random,
)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OP_PARAMS)
@pytest.mark.parametrize("size", SIZES)
def test_sizes(op, dtype, device, size):
    inputs = op.inputs((size,), dtype, device)
    originals = [x.clone() for x in inputs]
    result = op.fn(*inputs)
    assert result.device == inputs[0].device
    assert_matches(result, op.reference(*(x.double() for x in inputs)), dtype)
    for x, original in zip(inputs, originals, strict=True):  # inputs are never modified
        torch.testing.assert_close(x, original, rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OP_PARAMS)
@pytest.mark.parametrize("shape", [(), (1,), (5, 1, 3), (2, 3, 4, 5, 6, 7, 8, 9, 2, 3)])
def test_shapes(op, dtype, device, shape):
    inputs = op.inputs(shape, dtype, device)
    assert_matches(op.fn(*inputs), op.reference(*(x.double() for x in inputs)), dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OP_PARAMS)
@pytest.mark.parametrize("layout", list(LAYOUT_SHAPES))
def test_layouts(op, dtype, device, layout):
    shape = LAYOUT_SHAPES[layout]
    inputs = op.inputs(shape, dtype, device, layout)
    result = op.fn(*inputs)
    assert_matches(result, op.reference(*(x.double() for x in inputs)), dtype)
    # The output's strides follow torch.empty_like: dense layouts are kept, others made contiguous.
    assert result.stride() == torch.empty_like(inputs[0]).stride()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_many_dimensions(op, device):
    # Every other element along each of 10 dimensions: no two dimensions merge, more than the 8
    # the engines walk, so the binding computes on contiguous copies.
    inputs = [
        random((3,) * 10, torch.float32, device)[(slice(None, None, 2),) * 10]
        for _ in range(op.arity)
    ]
    assert_matches(op.fn(*inputs), op.reference(*(x.double() for x in inputs)), torch.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_gradcheck(op, device):
    inputs = [x.requires_grad_() for x in op.inputs((4, 5), torch.float64, device)]
    assert torch.autograd.gradcheck(op.fn, inputs)
    assert torch.autograd.gradgradcheck(op.fn, inputs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_backward_matches_torch(op, dtype, device):
    inputs = [x.requires_grad_() for x in op.inputs((33, 7), dtype, device)]
    references = [x.detach().double().requires_grad_() for x in inputs]
    grad = random((33, 7), dtype, device)
    op.fn(*inputs).backward(grad)
    op.reference(*references).backward(grad.double())
    # A backward formula rounds once per operation: a few units in the last place.
    tolerance = 4 * torch.finfo(dtype).eps
    for x, ref in zip(inputs, references, strict=True):
        torch.testing.assert_close(x.grad, ref.grad.to(dtype), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_opcheck(op, device):
    samples = [
        op.inputs((3, 5), torch.float32, device),
        [x.requires_grad_() for x in op.inputs((3, 5), torch.float64, device)],
        op.inputs((3, 7), torch.float16, device, "transposed"),
    ]
    for args in samples:
        torch.library.opcheck(getattr(torch.ops.mykernels, op.name).default, args, op.kwargs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16_bit_conversions_are_exact(dtype, device):
    """Every 16-bit pattern (subnormals, infinities and NaNs included) goes through the engines'
    load, float32 arithmetic and round-to-nearest-even store exactly as torch converts it."""
    x = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16).view(dtype).to(device)
    y = x[torch.randperm(x.numel(), device=device)]
    for got, want in (
        (mykernels.square(x), (x.float() * x.float()).to(dtype)),
        (mykernels.add(x, y), (x.float() + y.float()).to(dtype)),
    ):
        nan = want.isnan()
        assert torch.equal(got.isnan(), nan)
        assert torch.equal(got[~nan].view(torch.int16), want[~nan].view(torch.int16))


@pytest.mark.parametrize("device", DEVICES)
def test_output_strides_are_empty_likes(device):
    """Outputs keep the input's strides exactly as torch.empty_like does, also where they only
    differ on dimensions of size 1 (a channels_last tensor of 1x1 images is also contiguous)."""
    for x in (
        random((2, 3, 1, 1), device=device).contiguous(memory_format=torch.channels_last),
        random((4, 1, 5), device=device).as_strided((4, 1, 5), (5, 7, 1)),
        random((3, 4), device=device),
        random((3, 0, 4), device=device),
    ):
        expected = torch.empty_like(x).stride()
        assert mykernels.square(x).stride() == expected
        assert mykernels.d_sigmoid(x).stride() == expected
        assert mykernels.add(x, x).stride() == expected


@pytest.mark.parametrize("op", OP_PARAMS)
def test_torch_argument_names(op):
    # torch's names: input, other, keyword alpha; by keyword and by position alike.
    inputs = op.inputs((5, 7))
    names = ["input", "other"][: op.arity]
    by_position = op.fn(*inputs)
    by_keyword = getattr(mykernels, op.name)(**dict(zip(names, inputs, strict=True)), **op.kwargs)
    torch.testing.assert_close(by_keyword, by_position, rtol=0, atol=0)
    assert list(inspect.signature(getattr(mykernels, op.name)).parameters) == [
        *names,
        *op.kwargs,
        "out",
    ]
    assert list(inspect.signature(getattr(mykernels, f"{op.name}_")).parameters) == [
        *names,
        *op.kwargs,
    ]
