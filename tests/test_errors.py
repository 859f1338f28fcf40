"""Bad inputs get a clear exception that names the op and the problem."""

from __future__ import annotations

import re

import pytest
import torch

import mykernels
from helpers import DEVICES, random, requires_cuda

DTYPE_ERROR = (
    r"mykernels\.{op}: expected a tensor of dtype float32, float64, float16 or bfloat16, got {got}"
)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "dtype", [torch.int64, torch.int32, torch.uint8, torch.bool, torch.complex64]
)
def test_square_rejects_non_float(dtype, device):
    x = torch.ones(3, dtype=dtype, device=device)
    with pytest.raises(
        RuntimeError, match=DTYPE_ERROR.format(op="square", got=re.escape(str(dtype)))
    ):
        mykernels.square(x)


@pytest.mark.parametrize("device", DEVICES)
def test_d_sigmoid_rejects_complex(device):
    z = torch.ones(3, dtype=torch.complex64, device=device)
    with pytest.raises(
        RuntimeError, match=DTYPE_ERROR.format(op="d_sigmoid", got="torch.complex64")
    ):
        mykernels.d_sigmoid(z)


@pytest.mark.parametrize("device", DEVICES)
def test_add_rejects_integer_results(device):
    a = torch.arange(4, device=device)
    with pytest.raises(RuntimeError, match=DTYPE_ERROR.format(op="add", got="torch.int64")):
        mykernels.add(a, a)


@pytest.mark.parametrize("device", DEVICES)
def test_add_rejects_shapes_that_do_not_broadcast(device):
    a, b = random((3, 4), device=device), random((5,), device=device)
    with pytest.raises(
        RuntimeError,
        match=r"mykernels\.add: a of shape \[3, 4\] and b of shape \[5\] do not broadcast",
    ):
        mykernels.add(a, b)


@pytest.mark.parametrize("alpha", [1j, True])
def test_add_rejects_non_real_alpha(alpha):
    a = random((3,))
    with pytest.raises(RuntimeError, match=r"mykernels\.add: alpha must be a real number"):
        mykernels.add(a, a, alpha=alpha)


@pytest.mark.parametrize(
    ("value", "type_name"), [(None, "NoneType"), ([1.0], "list"), (3.0, "float")]
)
@pytest.mark.parametrize("op", [mykernels.square, mykernels.d_sigmoid])
def test_non_tensors(op, value, type_name):
    name = op.__name__
    arg = "x" if name == "square" else "z"
    with pytest.raises(
        TypeError, match=rf"mykernels\.{name}: expected a torch.Tensor for {arg}, got {type_name}"
    ):
        op(value)


def test_add_non_tensors():
    with pytest.raises(TypeError, match=r"mykernels\.add: expected a torch.Tensor for b, got int"):
        mykernels.add(random((3,)), 2)


@requires_cuda
def test_add_rejects_mixed_devices():
    a, b = random((3,)), random((3,), device="cuda")
    with pytest.raises(
        RuntimeError,
        match=r"mykernels\.add: expected a and b on the same device, got cpu and cuda:0",
    ):
        mykernels.add(a, b)
    with pytest.raises(
        RuntimeError,
        match=r"mykernels\.add: expected a and b on the same device, got cuda:0 and cpu",
    ):
        mykernels.add(b, a)
