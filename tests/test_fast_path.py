"""The public functions' eager fast path (cpp/binding/fast_path.cpp): taken exactly for plain tensors that
need no gradient with nothing watching, and the same as the operator in every respect. Where there is
no fast path (no binding for this interpreter, or MYKERNELS_FAST_PATH=0), test_build.py checks that
the public functions are the ops' Python functions."""

from __future__ import annotations

import inspect
import io
import pickle
import types

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

import mykernels
from helpers import (
    DEVICES,
    DTYPES,
    OP_PARAMS,
    python_calls,
    random,
    requires_cuda,
    requires_fast_path,
)

pytestmark = requires_fast_path


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced", "expanded"])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_same_result_as_the_operator(op, layout, dtype, device):
    inputs = op.inputs((37, 129), dtype, device, layout)
    fast = op.fast(*inputs)
    assert fast is not None, "the fast path declined plain tensors"
    expected = op.operator(*inputs)
    torch.testing.assert_close(fast, expected, rtol=0, atol=0)
    assert fast.stride() == expected.stride()
    assert not fast.requires_grad


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_taken_without_grad_mode_and_under_inference_mode(op, device):
    inputs = [x.requires_grad_() for x in op.inputs(64, device=device)]
    with torch.no_grad():
        assert op.fast(*inputs) is not None
    with torch.inference_mode():
        assert op.fast(*(x.detach().clone() for x in inputs)) is not None


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
    inputs = op.inputs(64, device=device)
    needs_grad = [x.clone().requires_grad_() for x in inputs]
    assert op.fast(*needs_grad) is None
    assert op.fast(*(x.as_subclass(_Subclass) for x in inputs)) is None
    assert op.fast(*(x.to("meta") for x in inputs)) is None
    with _PassThroughFunctionMode():
        assert op.fast(*inputs) is None
    with _RecordingDispatchMode():
        assert op.fast(*inputs) is None
    with torch.autocast(device_type=device):
        assert op.fast(*inputs) is None
    with torch.profiler.profile(acc_events=True):
        assert op.fast(*inputs) is None
    with torch.autograd.profiler.profile():
        assert op.fast(*inputs) is None


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_modes_and_profiler_see_the_operator(op, device):
    inputs = op.inputs(64, device=device)
    with _RecordingDispatchMode() as mode:
        op.fn(*inputs)
    assert mode.calls == [f"mykernels.{op.name}.default"]
    with torch.profiler.profile(acc_events=True) as prof:
        op.fn(*inputs)
    assert f"mykernels::{op.name}" in {event.key for event in prof.key_averages()}


@pytest.mark.filterwarnings("ignore")  # torch.jit's deprecation and tracer warnings
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_jit_trace_records_the_operator(op, device):
    # Under torch.jit.trace the fast path declines, so that the trace holds the operator rather
    # than its result as a constant.
    inputs = op.inputs(64, device=device)
    traced = torch.jit.trace(lambda *xs: op.fn(*xs) + xs[0], inputs, check_trace=False)
    fresh = op.inputs(64, device=device)
    torch.testing.assert_close(traced(*fresh), op.operator(*fresh) + fresh[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", [p for p in OP_PARAMS if p.values[0].kwargs])
def test_float_argument_beyond_64_bits_goes_to_the_operator(op, device):
    # Errors raised inside the fast path come from the operator too: tests/test_inputs.py checks
    # them through the public functions. Only Python ints that fit in 64 bits and floats take the
    # fast path as a float argument (the stable ABI has no Scalar).
    inputs = op.inputs(64, device=device)
    big = {key: 2**70 for key in op.kwargs}
    assert getattr(mykernels._C, op.name)(*inputs, *big.values()) is None
    wide = {key: float(value) for key, value in big.items()}
    torch.testing.assert_close(op.fn(*inputs, **big), op.operator(*inputs, **wide))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_declined_where_dlpack_would_export_wrong_memory(op, device):
    # DLPack exports a negative view's memory without the negation, and a ZeroTensor's NULL
    # pointer: both go to the operator, whose dispatcher materializes them first.
    inputs = op.inputs(64, device=device)
    negative = [torch._neg_view(x) for x in inputs]
    assert op.fast(*negative) is None
    torch.testing.assert_close(op.fn(*negative), op.operator(*(-x for x in inputs)))
    zeros = [torch._efficientzerotensor(64, device=device) for _ in range(op.arity)]
    assert op.fast(*zeros) is None
    torch.testing.assert_close(op.fn(*zeros), op.operator(*(torch.zeros_like(x) for x in zeros)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_declined_under_vmap_and_torch_func(op, device):
    inputs = op.inputs((3, 8), device=device)
    declined = []
    torch.vmap(lambda *xs: declined.append(op.fast(*xs) is None) or xs[0])(*inputs)
    torch.func.grad(lambda *xs: declined.append(op.fast(*xs) is None) or xs[0].sum())(*inputs)
    assert declined == [True, True]


@pytest.mark.parametrize("device", DEVICES)
def test_results_behave_like_torch_results(device):
    # What users do with a result: in-place ops, views, autograd, pickling, resize_.
    x = random((4, 5), device=device)
    out = mykernels._C.square(x)
    assert out is not None
    expected = x * x
    # The Python tensor alone holds the result, as torch's own: no reference is left behind.
    assert out._use_count() == expected._use_count() == 1
    out.add_(1)
    expected.add_(1)
    torch.testing.assert_close(out, expected)
    out.t()[0].mul_(2)
    expected.t()[0].mul_(2)
    torch.testing.assert_close(out, expected)
    out.requires_grad_()
    (out * out).sum().backward()
    torch.testing.assert_close(out.grad, 2 * out.detach())
    buffer = io.BytesIO()
    torch.save(out.detach(), buffer)
    torch.testing.assert_close(torch.load(io.BytesIO(buffer.getvalue())), out.detach())
    torch.testing.assert_close(pickle.loads(pickle.dumps(out.detach().cpu())), out.detach().cpu())
    assert out.data_ptr() == out.untyped_storage().data_ptr()
    del out
    assert torch.equal(x, x.clone())  # the input is untouched, and the result freed its memory


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_results_resize(op, device):
    # resize_ grows a result, keeping its values, as torch's own results: the result is torch's
    # tensor, whose memory comes from torch's allocator, under every supported torch. A broadcast
    # result (a shape no input has) is contiguous, as the operator's.
    shapes = [(8,)] if op.arity == 1 else [(4, 1), (1, 2)]
    out = op.fast(*(random(shape, device=device) for shape in shapes))
    assert out is not None
    assert out.is_contiguous()
    values = out.clone()
    out.resize_(100)
    assert out.shape == (100,)
    torch.testing.assert_close(out[:8], values.flatten())


@requires_cuda
@pytest.mark.parametrize("op", OP_PARAMS)
def test_record_stream_keeps_the_memory_of_a_result(op):
    # record_stream only acts on memory of torch's CUDA caching allocator: a result whose memory
    # came from elsewhere would be reused while another stream still reads it (silently wrong
    # data). Here the side stream is busy, so a recorded block must not come back from the next
    # allocation of its size, as torch's own result does not.
    inputs = op.inputs(1 << 20, device="cuda")
    side = torch.cuda.Stream()

    def reused(make) -> bool:
        torch.cuda.synchronize()
        result = make()
        address = result.data_ptr()
        with torch.cuda.stream(side):
            torch.cuda._sleep(100_000_000)  # a few tens of milliseconds
        result.record_stream(side)
        del result
        again = torch.empty(1 << 20, device="cuda", dtype=inputs[0].dtype)
        torch.cuda.synchronize()
        return again.data_ptr() == address

    assert not reused(lambda: op.like(*inputs, **op.kwargs)), "torch's own result: void check"
    assert not reused(lambda: op.fast(*inputs))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_public_function_takes_the_fast_path_without_python(op, device, monkeypatch):
    # The public function is a C function: the fast path, then the op's Python function (ops.py)
    # for every call it does not take, with the arguments as given.
    calls = python_calls(monkeypatch)
    public = getattr(mykernels, op.name)
    inputs = op.inputs(64, device=device)
    expected = op.operator(*inputs)
    torch.testing.assert_close(public(*inputs, **op.kwargs), expected, rtol=0, atol=0)
    assert calls == []
    # Tensors by keyword, a float argument left at its default, one that needs a gradient: the
    # Python function, with the same result.
    names = list(inspect.signature(public).parameters)[: op.arity]
    torch.testing.assert_close(
        public(**dict(zip(names, inputs, strict=True)), **op.kwargs), expected, rtol=0, atol=0
    )
    assert calls == [op.name]
    if op.kwargs:
        default = public(*inputs)
        torch.testing.assert_close(default, op.operator(*inputs, **dict.fromkeys(op.kwargs, 1.0)))
        assert calls == [op.name]  # a default is a float argument like any other
    grad = public(inputs[0].clone().requires_grad_(), *inputs[1:], **op.kwargs)
    assert grad.requires_grad
    assert calls == [op.name, op.name]
    # What does not fit the signature raises Python's own error.
    with pytest.raises(TypeError, match="positional"):
        public(*inputs, *inputs)
    with pytest.raises(TypeError, match="unexpected keyword argument 'beta'"):
        public(*inputs, beta=1.0)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_public_function_presents_the_python_function(op):
    # help(), inspect.signature and pickle see the Python function's docstring and signature,
    # and the public function by its name.
    public = getattr(mykernels, op.name)
    assert public.__name__ == op.name
    assert public.__module__ == "mykernels.ops"
    assert isinstance(public, types.BuiltinFunctionType)
    assert public.__self__ is mykernels._C
    parameters = inspect.signature(public).parameters
    schema = mykernels.ops._SCHEMAS[op.name]
    assert list(parameters) == [*schema.tensors, *schema.defaults, "out"]
    for name, default in [*schema.defaults.items(), ("out", None)]:
        assert parameters[name].kind == inspect.Parameter.KEYWORD_ONLY
        assert parameters[name].default == default
    assert public.__doc__.startswith("Return ")
    assert "Args:" in public.__doc__
    # The in-place form alike, without out.
    in_place = getattr(mykernels, f"{op.name}_")
    assert in_place.__name__ == f"{op.name}_"
    assert isinstance(in_place, types.BuiltinFunctionType)
    assert list(inspect.signature(in_place).parameters) == [*schema.tensors, *schema.defaults]
    assert pickle.loads(pickle.dumps(in_place)) is in_place
    assert pickle.loads(pickle.dumps(public)) is public
