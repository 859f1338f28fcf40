"""Everything a PyTorch program can pass: the result is torch's, or a clear exception.

Each case builds the arguments of one call on a device and says what must happen: "torch" (the
values of the float64 reference, rounded to the result's dtype, with torch's dtype and shape) or
(exception type, message pattern).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import mykernels
from helpers import DEVICES, OP_PARAMS, TABLE, random, requires_cuda, requires_two_gpus

TORCH = "torch"
DTYPE_MESSAGE = r"mykernels\.{op}: expected a tensor of dtype float32, float64, float16 or bfloat16, got torch\.{dtype}"


def _reference(op: str, args: tuple, kwargs: dict) -> torch.Tensor:
    wide = [a.double() if isinstance(a, torch.Tensor) else a for a in args]
    return TABLE[op].math(*wide, **kwargs)


def _torch_dtype(op: str, args: tuple) -> torch.dtype:
    return TABLE[op].like(*args).dtype


@dataclass(frozen=True)
class Case:
    name: str
    op: str
    make: Callable[[str], tuple]  # device -> args
    expect: object = TORCH
    kwargs: dict = field(default_factory=dict)


def _f32(*values: float) -> Callable[[str], tuple]:
    return lambda d: (torch.tensor(values, dtype=torch.float32, device=d),)


def _quiet(make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Makes a tensor whose constructor warns (beta or deprecated tensor kinds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


def _overlapping(d: str) -> torch.Tensor:
    # Rows that share storage: stride (1, 1) over a 4 x 5 view of 8 elements.
    return random(8, device=d).as_strided((4, 5), (1, 1))


CASES = [
    # Not tensors.
    Case(
        "none",
        "square",
        lambda d: (None,),
        (TypeError, r"mykernels\.square: expected a torch\.Tensor for input, got NoneType"),
    ),
    Case(
        "list",
        "d_sigmoid",
        lambda d: ([0.5, 1.0],),
        (TypeError, r"expected a torch\.Tensor for input, got list"),
    ),
    Case("python float", "square", lambda d: (2.0,), (TypeError, r"got float")),
    Case(
        "python int as b",
        "add",
        lambda d: (random(3, device=d), 2),
        (TypeError, r"mykernels\.add: expected a torch\.Tensor for other, got int"),
    ),
    Case("string", "d_sigmoid", lambda d: ("x",), (TypeError, r"got str")),
    Case("numpy array", "square", lambda d: (np.ones(3),), (TypeError, r"got ndarray")),
    # dtypes.
    Case(
        "complex64",
        "square",
        lambda d: (torch.ones(3, dtype=torch.complex64, device=d),),
        (RuntimeError, DTYPE_MESSAGE.format(op="square", dtype="complex64")),
    ),
    Case(
        "complex128 z",
        "d_sigmoid",
        lambda d: (torch.ones(3, dtype=torch.complex128, device=d),),
        (RuntimeError, DTYPE_MESSAGE.format(op="d_sigmoid", dtype="complex128")),
    ),
    Case(
        "complex + float",
        "add",
        lambda d: (torch.ones(3, dtype=torch.complex64, device=d), random(3, device=d)),
        (RuntimeError, DTYPE_MESSAGE.format(op="add", dtype="complex64")),
    ),
    Case(
        "int64 square",
        "square",
        lambda d: (torch.arange(5, device=d),),
        (RuntimeError, DTYPE_MESSAGE.format(op="square", dtype="int64")),
    ),
    Case(
        "int32 square",
        "square",
        lambda d: (torch.arange(5, dtype=torch.int32, device=d),),
        (RuntimeError, DTYPE_MESSAGE.format(op="square", dtype="int32")),
    ),
    Case(
        "uint8 square",
        "square",
        lambda d: (torch.arange(5, dtype=torch.uint8, device=d),),
        (RuntimeError, DTYPE_MESSAGE.format(op="square", dtype="uint8")),
    ),
    Case(
        "bool square",
        "square",
        lambda d: (torch.ones(2, dtype=torch.bool, device=d),),
        (RuntimeError, DTYPE_MESSAGE.format(op="square", dtype="bool")),
    ),
    Case(
        "int + int",
        "add",
        lambda d: (torch.arange(3, device=d), torch.arange(3, device=d)),
        (RuntimeError, DTYPE_MESSAGE.format(op="add", dtype="int64")),
    ),
    Case("int32 z", "d_sigmoid", lambda d: (torch.arange(-50, 50, dtype=torch.int32, device=d),)),
    Case("int8 z", "d_sigmoid", lambda d: (torch.arange(-128, 127, dtype=torch.int8, device=d),)),
    Case("bool z", "d_sigmoid", lambda d: (torch.tensor([True, False], device=d),)),
    Case("int + float", "add", lambda d: (torch.arange(6, device=d), random(6, device=d))),
    Case(
        "bool + bfloat16",
        "add",
        lambda d: (torch.ones(6, dtype=torch.bool, device=d), random(6, torch.bfloat16, d)),
    ),
    Case(
        "float16 + 0-dim float64",
        "add",
        lambda d: (random(6, torch.float16, d), torch.tensor(1.5, dtype=torch.float64, device=d)),
    ),
    # Layouts other than strided.
    Case(
        "sparse coo",
        "square",
        lambda d: (random((3, 3), device=d).to_sparse(),),
        (
            RuntimeError,
            r"mykernels\.square: expected a dense \(strided\) tensor for input, got torch\.sparse_coo",
        ),
    ),
    Case(
        "sparse csr",
        "d_sigmoid",
        lambda d: (_quiet(lambda: random((3, 3), device=d).to_sparse_csr()),),
        (RuntimeError, r"got torch\.sparse_csr"),
    ),
    Case(
        "sparse b",
        "add",
        lambda d: (random((3, 3), device=d), random((3, 3), device=d).to_sparse()),
        (RuntimeError, r"mykernels\.add: expected a dense \(strided\) tensor for other"),
    ),
    Case(
        "quantized",
        "square",
        lambda d: (_quiet(lambda: torch.quantize_per_tensor(random(4), 0.1, 0, torch.quint8)),),
        (
            RuntimeError,
            r"mykernels\.square: expected a floating-point tensor for input, got a quantized torch\.quint8",
        ),
    ),
    # Strides.
    Case("expanded", "square", lambda d: (random((1, 7), device=d).expand(5, 7),)),
    Case("overlapping view", "d_sigmoid", lambda d: (_overlapping(d),)),
    Case(
        "overlapping + expanded",
        "add",
        lambda d: (_overlapping(d), random((5,), device=d).expand(4, 5)),
    ),
    Case(
        "channels_last",
        "square",
        lambda d: (random((2, 3, 4, 5), device=d).contiguous(memory_format=torch.channels_last),),
    ),
    Case(
        "channels_last_3d",
        "d_sigmoid",
        lambda d: (
            random((2, 3, 2, 4, 5), device=d).contiguous(memory_format=torch.channels_last_3d),
        ),
    ),
    Case(
        "permuted",
        "add",
        lambda d: (random((3, 4, 5), device=d).permute(2, 0, 1), random((5, 3, 4), device=d)),
    ),
    Case("storage offset 1", "square", lambda d: (random(1001, device=d)[1:],)),
    Case("storage offset 3, float16", "d_sigmoid", lambda d: (random(4099, torch.float16, d)[3:],)),
    Case(
        "negative-free reversed slice", "square", lambda d: (random((9, 9), device=d)[::3, 1::2],)
    ),
    Case("0-dim", "d_sigmoid", lambda d: (torch.tensor(0.7, device=d),)),
    Case("empty 2-d", "add", lambda d: (random((0, 5), device=d), random((5,), device=d))),
    Case("broadcast to empty", "add", lambda d: (random((3, 1), device=d), random((0,), device=d))),
    Case(
        "not broadcastable",
        "add",
        lambda d: (random((2, 3), device=d), random((4,), device=d)),
        (
            RuntimeError,
            r"mykernels\.add: input of shape \[2, 3\] and other of shape \[4\] do not broadcast",
        ),
    ),
    # Values.
    Case("huge float32", "square", _f32(1e20, -3e38, 1.8e19)),
    Case("tiny float32", "square", _f32(1e-20, -1e-30, 1e-23)),
    Case("denormals", "square", _f32(1e-40, -1e-44, 1e-39)),
    Case("denormal z", "d_sigmoid", _f32(1e-40, -1e-44)),
    Case(
        "infinities",
        "add",
        lambda d: (
            torch.tensor([float("inf"), 1.0, float("inf")], device=d),
            torch.tensor([1.0, float("-inf"), float("-inf")], device=d),
        ),
    ),
    Case("nan", "square", _f32(float("nan"), 1.0)),
    Case(
        "nan times alpha 0",
        "add",
        lambda d: (random(3, device=d), torch.full((3,), float("nan"), device=d)),
        kwargs={"alpha": 0},
    ),
    Case(
        "float16 overflow",
        "square",
        lambda d: (torch.tensor([300.0, -256.0, 65504.0], dtype=torch.float16, device=d),),
    ),
    Case(
        "bfloat16 extremes",
        "d_sigmoid",
        lambda d: (torch.tensor([3e38, -3e38, 1e-38], dtype=torch.bfloat16, device=d),),
    ),
    Case(
        "huge alpha",
        "add",
        lambda d: (random(4, device=d), random(4, device=d)),
        kwargs={"alpha": 1e300},
    ),
    Case(
        "numpy alpha",
        "add",
        lambda d: (random(4, device=d), random(4, device=d)),
        kwargs={"alpha": np.float64(0.25)},
    ),
    Case(
        "bool alpha",
        "add",
        lambda d: (random(4, device=d), random(4, device=d)),
        (RuntimeError, r"mykernels\.add: alpha must be a real number"),
        {"alpha": True},
    ),
    Case(
        "complex alpha",
        "add",
        lambda d: (random(4, device=d), random(4, device=d)),
        (RuntimeError, r"mykernels\.add: alpha must be a real number"),
        {"alpha": 2j},
    ),
    # Tensor kinds.
    Case("parameter", "square", lambda d: (torch.nn.Parameter(random(4, device=d)),)),
    Case("inference tensor", "d_sigmoid", lambda d: (_inference_tensor(d),)),
]


def _inference_tensor(device: str) -> torch.Tensor:
    with torch.inference_mode():
        return random(5, device=device)


def _run(case: Case, device: str) -> None:
    args = case.make(device)
    fn = getattr(mykernels, case.op)
    if case.expect == TORCH:
        result = fn(*args, **case.kwargs)
        dtype = _torch_dtype(case.op, args)
        expected = _reference(case.op, args, case.kwargs)
        assert result.dtype == dtype
        assert result.device == args[0].device
        torch.testing.assert_close(result, expected.to(dtype), equal_nan=True)
    else:
        error, pattern = case.expect
        with pytest.raises(error, match=pattern):
            fn(*args, **case.kwargs)


def test_at_least_forty_cases():
    assert len({case.name for case in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_input(case, device):
    if case.name == "quantized" and device != "cpu":
        device = "cpu"  # quantized tensors are CPU-only
    _run(case, device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("needs_grad", [(False, False), (True, False), (False, True), (True, True)])
def test_requires_grad_combinations(needs_grad, device):
    a = random((4, 3), torch.float64, device).requires_grad_(needs_grad[0])
    b = random((3,), torch.float64, device).requires_grad_(needs_grad[1])
    out = mykernels.d_sigmoid(mykernels.add(mykernels.square(a), b, alpha=2))
    assert out.requires_grad == any(needs_grad)
    if any(needs_grad):
        inputs = [x for x in (a, b) if x.requires_grad]
        grads = torch.autograd.grad(out.sum(), inputs)
        a64, b64 = (
            a.detach().requires_grad_(needs_grad[0]),
            b.detach().requires_grad_(needs_grad[1]),
        )
        h = torch.square(a64) + 2 * b64
        expected = torch.autograd.grad(
            (torch.sigmoid(h) * torch.sigmoid(-h)).sum(), [x for x in (a64, b64) if x.requires_grad]
        )
        for got, want in zip(grads, expected, strict=True):
            torch.testing.assert_close(got, want)


@pytest.mark.parametrize("device", DEVICES)
def test_no_grad_mode(device):
    x = random(5, torch.float64, device).requires_grad_()
    with torch.no_grad():
        assert not mykernels.square(x).requires_grad


def _same_device_message(op, devices: list[str]) -> str:
    """The message of `op` for tensors on `devices`, by the names in its schema."""
    names = [a.name for a in getattr(torch.ops.mykernels, op.name).default._schema.arguments]
    listed = ", ".join(names[: op.arity - 1]) + " and " + names[op.arity - 1]
    got = ", ".join(devices[:-1]) + " and " + devices[-1]
    return rf"mykernels\.{op.name}: expected {listed} on the same device, got {got}"


BINARY = [p for p in OP_PARAMS if p.values[0].arity >= 2]


@requires_cuda
@pytest.mark.parametrize("op", BINARY)
def test_cpu_tensor_with_cuda_tensor(op):
    # The CUDA tensor is a mykernels result: what the fast path returns is checked too.
    cpu, cuda = random(3), mykernels.square(random(3, device="cuda"))
    for first, devices in ((cpu, ["cpu", "cuda:0"]), (cuda, ["cuda:0", "cpu"])):
        rest = cuda if first is cpu else cpu
        inputs = [first] + [rest] * (op.arity - 1)
        with pytest.raises(
            RuntimeError, match=_same_device_message(op, devices[:1] + devices[1:] * (op.arity - 1))
        ):
            op.fn(*inputs)


@requires_two_gpus
@pytest.mark.parametrize("op", BINARY)
def test_tensors_on_two_gpus(op):
    inputs = [random(3, device="cuda:0")] + [random(3, device="cuda:1")] * (op.arity - 1)
    devices = ["cuda:0"] + ["cuda:1"] * (op.arity - 1)
    with pytest.raises(RuntimeError, match=_same_device_message(op, devices)):
        op.fn(*inputs)
