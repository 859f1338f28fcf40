"""mykernels.add: torch.add's broadcasting, type promotion and alpha."""

from __future__ import annotations

import pytest
import torch

import mykernels
from helpers import DEVICES, assert_matches, random, with_layout

BROADCASTS = [
    ((5, 4), (4,)),
    ((4,), (5, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 1, 5), (3, 4, 1)),
    ((7, 3), ()),
    ((), (7, 3)),
    ((0, 3), (3,)),
    ((1,), (1 << 20,)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("shape_a", "shape_b"), BROADCASTS)
def test_broadcasting(shape_a, shape_b, device):
    a = random(shape_a, torch.float32, device)
    b = random(shape_b, torch.float32, device)
    result = mykernels.add(a, b)
    expected = torch.add(a.double(), b.double())
    assert_matches(result, expected, torch.float32)
    assert result.shape == torch.add(a, b).shape


PROMOTIONS = [
    (torch.float16, torch.float32),
    (torch.bfloat16, torch.float16),
    (torch.float32, torch.float64),
    (torch.int64, torch.float16),
    (torch.bool, torch.bfloat16),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("dtype_a", "dtype_b"), PROMOTIONS)
def test_type_promotion(dtype_a, dtype_b, device):
    a = random((33, 5), torch.float64, device, scale=10.0).to(dtype_a)
    b = random((33, 5), torch.float64, device, scale=10.0).to(dtype_b)
    result = mykernels.add(a, b, alpha=2)
    expected_dtype = torch.result_type(a, b)
    assert_matches(result, torch.add(a.double(), b.double(), alpha=2), expected_dtype)
    assert result.dtype == torch.add(a, b).dtype


@pytest.mark.parametrize("device", DEVICES)
def test_zero_dim_tensors_do_not_promote(device):
    # A 0-dim tensor of a wider dtype does not widen a dimensioned one, as in torch.add.
    a = random((9,), torch.float16, device)
    b = torch.tensor(2.5, dtype=torch.float64, device=device)
    assert mykernels.add(a, b).dtype == torch.add(a, b).dtype == torch.float16


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("alpha", [1, 0, -1, 2.5, -1e-3, 7])
def test_alpha(alpha, device):
    a, b = random((65, 3), torch.float64, device), random((65, 3), torch.float64, device)
    torch.testing.assert_close(mykernels.add(a, b, alpha=alpha), torch.add(a, b, alpha=alpha))


@pytest.mark.parametrize("device", DEVICES)
def test_operands_in_different_layouts(device):
    # Each operand with strides of its own: the strided path with a stride per operand.
    a = with_layout("transposed", (37, 65), torch.float32, device)
    b = with_layout("sliced", (37, 65), torch.float32, device)
    assert_matches(mykernels.add(a, b), a.double() + b.double(), torch.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_output_layout(device):
    # a's layout when a has the result's shape, contiguous otherwise.
    a = random((4, 6), torch.float32, device).mT
    assert mykernels.add(a, random((6, 4), torch.float32, device)).stride() == a.stride()
    assert mykernels.add(random((4,), torch.float32, device), a).is_contiguous()


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_through_broadcast_and_promotion(device):
    a = random((3, 1, 5), torch.float16, device).requires_grad_()
    b = random((4, 1), torch.float32, device).requires_grad_()
    grad = random((3, 4, 5), torch.float32, device)
    mykernels.add(a, b, alpha=-3).backward(grad)
    a64, b64 = a.detach().double().requires_grad_(), b.detach().double().requires_grad_()
    torch.add(a64, b64, alpha=-3).backward(grad.double())
    assert a.grad.dtype == torch.float16
    assert b.grad.dtype == torch.float32
    torch.testing.assert_close(a.grad, a64.grad.half())
    torch.testing.assert_close(b.grad, b64.grad.float())


@pytest.mark.parametrize("device", DEVICES)
def test_gradcheck_broadcast(device):
    a = random((3, 1), torch.float64, device).requires_grad_()
    b = random((4,), torch.float64, device).requires_grad_()
    fn = lambda a, b: mykernels.add(a, b, alpha=0.3)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (a, b))
    assert torch.autograd.gradgradcheck(fn, (a, b))
