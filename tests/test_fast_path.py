"""The public functions' eager fast path (cpp/module.cpp): taken exactly for plain tensors that
need no gradient with nothing watching, and the same as the operator in every respect."""

from __future__ import annotations

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

import mykernels
from helpers import ALPHA, DEVICES, DTYPES, OP_PARAMS, random, with_layout


def _fast(op, *inputs):
    """The fast-path function itself: the result, or None where it leaves the call to the op."""
    extra = (ALPHA,) if op.name == "add" else ()
    return getattr(mykernels._C, op.name)(*inputs, *extra)


def _operator(op, *inputs):
    kwargs = {"alpha": ALPHA} if op.name == "add" else {}
    return getattr(torch.ops.mykernels, op.name).default(*inputs, **kwargs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced", "expanded"])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_same_result_as_the_operator(op, layout, dtype, device):
    inputs = [with_layout(layout, (37, 129), dtype, device) for _ in range(op.arity)]
    fast = _fast(op, *inputs)
    assert fast is not None, "the fast path declined plain tensors"
    expected = _operator(op, *inputs)
    torch.testing.assert_close(fast, expected, rtol=0, atol=0)
    assert fast.stride() == expected.stride()
    assert not fast.requires_grad


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_taken_without_grad_mode_and_under_inference_mode(op, device):
    inputs = [random(64, device=device).requires_grad_() for _ in range(op.arity)]
    with torch.no_grad():
        assert _fast(op, *inputs) is not None
    with torch.inference_mode():
        assert _fast(op, *(x.detach().clone() for x in inputs)) is not None


class _Subclass(torch.Tensor):
    pass


class _PassThroughFunctionMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


class _RecordingDispatchMode(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_declined_where_torch_would_do_more(op, device):
    inputs = [random(64, device=device) for _ in range(op.arity)]
    needs_grad = [x.clone().requires_grad_() for x in inputs]
    assert _fast(op, *needs_grad) is None
    assert _fast(op, *(x.as_subclass(_Subclass) for x in inputs)) is None
    assert _fast(op, *(x.to("meta") for x in inputs)) is None
    with _PassThroughFunctionMode():
        assert _fast(op, *inputs) is None
    with _RecordingDispatchMode():
        assert _fast(op, *inputs) is None
    with torch.autocast(device_type=device):
        assert _fast(op, *inputs) is None
    with torch.profiler.profile(acc_events=True):
        assert _fast(op, *inputs) is None


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_modes_and_profiler_see_the_operator(op, device):
    inputs = [random(64, device=device) for _ in range(op.arity)]
    with _RecordingDispatchMode() as mode:
        op.fn(*inputs)
    assert mode.calls == [f"mykernels.{op.name}.default"]
    with torch.profiler.profile(acc_events=True) as prof:
        op.fn(*inputs)
    assert f"mykernels::{op.name}" in {event.key for event in prof.key_averages()}


@pytest.mark.parametrize("device", DEVICES)
def test_alpha_beyond_64_bits_goes_to_the_operator(device):
    # Errors raised inside the fast path come from the operator too: tests/test_inputs.py checks
    # them through the public functions. Only Python ints and floats that fit take the fast path.
    x = random(64, device=device)
    assert mykernels._C.add(x, x, 2**70) is None
    with pytest.raises(OverflowError):
        mykernels.add(x, x, alpha=2**70)
