"""The forms that write into a tensor: mykernels.<name>(..., out=out) and mykernels.<name>_(input,
...), next to torch's own forms of the op each follows (the tests' `like`: torch.square,
torch.add, torch.sigmoid), rule by rule: where torch writes, mykernels writes the same place;
where torch refuses, mykernels refuses with torch's error type and a message that names the op."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
import torch.autograd.forward_ad as fwAD

import mykernels
from helpers import (
    DEVICES,
    DTYPES,
    FAST_PATH,
    OP_PARAMS,
    TABLE,
    assert_matches,
    python_calls,
    random,
    requires_cuda,
    with_layout,
)

SHAPE = (37, 65)
# Layouts a written tensor can have: every one but "expanded", whose elements share memory.
WRITABLE = ["contiguous", "transposed", "sliced", "offset"]
BINARY = [p for p in OP_PARAMS if p.values[0].arity == 2]


def in_place(op):
    return getattr(mykernels, f"{op.name}_")


def torch_in_place(op):
    """torch's in-place form of the op that `op` follows (Tensor.square_, add_, sigmoid_)."""
    return getattr(torch.Tensor, f"{op.like.__name__}_")


def into(op, *inputs, out):
    """mykernels.<name>(*inputs, <the tests' float arguments>, out=out)."""
    return getattr(mykernels, op.name)(*inputs, **op.kwargs, out=out)


def expected(op, inputs):
    return op.reference(*(x.double() for x in inputs))


def raises_like_torch(torch_call, our_call, name: str) -> str:
    """Both calls raise RuntimeError; ours names the op and carries torch's message. Returns
    ours."""
    with pytest.raises(RuntimeError) as theirs:
        torch_call()
    with pytest.raises(RuntimeError) as ours:
        our_call()
    message = str(ours.value)
    assert f"mykernels.{name}" in message, message
    # torch's first sentence, less the name of its function ("pow(): ").
    sentence = re.sub(r"^\w+\(\): ", "", str(theirs.value).splitlines()[0])
    sentence = re.split(r"\.(?= |[A-Z]|$)", sentence)[0]
    assert sentence in message, (message, str(theirs.value))
    return message


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", WRITABLE)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_out_is_written_where_it_is(op, layout, dtype, device):
    inputs = op.inputs(SHAPE, dtype, device)
    out = with_layout(layout, SHAPE, dtype, device)
    base = out._base if out._base is not None else out
    around = base.clone()
    pointer, strides, version = out.data_ptr(), out.stride(), out._version
    result = into(op, *inputs, out=out)
    assert result is out
    assert (out.data_ptr(), out.stride()) == (pointer, strides)
    assert out._version == version + 1
    assert_matches(out, expected(op, inputs), dtype)
    # Written in place, not through a copy: the memory around a strided out is untouched.
    mask = torch.ones_like(base, dtype=torch.bool)
    mask.as_strided(out.shape, out.stride(), out.storage_offset() - base.storage_offset()).fill_(
        False
    )
    assert torch.equal(base[mask], around[mask])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", [*WRITABLE, "channels_last"])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_in_place(op, layout, dtype, device):
    shape = (3, 5, 7, 11) if layout == "channels_last" else SHAPE
    inputs = op.inputs(shape, dtype, device, layout)
    reference = expected(op, inputs)
    first = inputs[0]
    pointer, strides, version = first.data_ptr(), first.stride(), first._version
    assert in_place(op)(*inputs, **op.kwargs) is first
    assert (first.data_ptr(), first.stride()) == (pointer, strides)
    assert first._version == version + 1
    assert_matches(first, reference, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_out_may_be_an_input(op, device):
    for k in range(op.arity):
        inputs = op.inputs(SHAPE, device=device)
        reference = expected(op, inputs)
        assert into(op, *inputs, out=inputs[k]) is inputs[k]
        assert_matches(inputs[k], reference, torch.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_the_operators(op, device):
    # torch.ops.mykernels.<name>.out and <name>_ write as the public functions do, and return
    # nothing (torch.compile functionalizes no custom operator whose result aliases an input).
    inputs = op.inputs(SHAPE, device=device)
    reference = expected(op, inputs)
    out = torch.empty(SHAPE, device=device)
    assert getattr(torch.ops.mykernels, op.name).out(*inputs, **op.kwargs, out=out) is None
    assert_matches(out, reference, torch.float32)
    assert getattr(torch.ops.mykernels, f"{op.name}_")(*inputs, **op.kwargs) is None
    assert_matches(inputs[0], reference, torch.float32)
    schemas = [
        str(getattr(torch.ops.mykernels, op.name).out._schema),
        str(getattr(torch.ops.mykernels, f"{op.name}_").default._schema),
    ]
    assert schemas[0].endswith("Tensor(a!) out) -> ()")
    assert schemas[1].startswith(f"mykernels::{op.name}_(Tensor(a!) input")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("out_dtype", [torch.float64, torch.float16, torch.complex64])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_out_of_another_dtype_gets_the_result_converted(op, out_dtype, device):
    # As torch: the result in its own dtype, then converted to out's.
    inputs = op.inputs(SHAPE, device=device)
    out = torch.empty(SHAPE, dtype=out_dtype, device=device)
    assert into(op, *inputs, out=out) is out
    torch.testing.assert_close(out, op.fn(*inputs).to(out_dtype), rtol=0, atol=0)
    op.like(*inputs, out=torch.empty(SHAPE, dtype=out_dtype, device=device))  # torch takes it


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_result_that_cannot_be_cast_is_refused(op, dtype, device):
    inputs = op.inputs(SHAPE, device=device)
    out = torch.zeros(SHAPE, dtype=dtype, device=device)
    raises_like_torch(
        lambda: op.like(*inputs, out=out, **op.kwargs), lambda: into(op, *inputs, out=out), op.name
    )
    assert not out.any()
    # In place: an integer input cannot hold a floating-point result (d_sigmoid promotes an
    # integer input; the other ops take floating-point inputs only).
    if op.name == "d_sigmoid":
        integers = torch.arange(6, device=device).to(dtype)
        raises_like_torch(
            lambda: integers.clone().sigmoid_(), lambda: in_place(op)(integers), f"{op.name}_"
        )
        assert torch.equal(integers, torch.arange(6, device=device).to(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", BINARY)
def test_in_place_converts_a_promoted_result_to_the_input_dtype(op, device):
    # float16 += float32: computed in float32, as torch, then rounded to float16.
    a = random(SHAPE, torch.float16, device)
    b = random(SHAPE, torch.float32, device)
    expected16 = op.fn(a, b).to(torch.float16)
    theirs = torch_in_place(op)(a.clone(), b, **op.kwargs)
    assert in_place(op)(a, b, **op.kwargs) is a
    torch.testing.assert_close(a, expected16, rtol=0, atol=0)
    torch.testing.assert_close(a, theirs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "transposed"])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_out_of_another_shape_is_resized_as_torch_resizes_it(op, layout, device):
    shape = (3, 5, 7, 11) if layout == "channels_last" else SHAPE
    inputs = op.inputs(shape, device=device, layout=layout)
    # An empty out: resized silently, with the strides a new result would have (torch's too).
    ours, theirs = torch.empty(0, device=device), torch.empty(0, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        into(op, *inputs, out=ours)
        op.like(*inputs, out=theirs, **op.kwargs)
    assert (ours.shape, ours.stride()) == (theirs.shape, theirs.stride())
    assert_matches(ours, expected(op, inputs), torch.float32)
    # An out with elements: resized with torch's warning, pointing at the caller.
    ours = torch.empty(5, device=device)
    with pytest.warns(UserWarning, match="resized") as record:
        into(op, *inputs, out=ours)
    assert len(record) == 1
    assert record[0].filename == __file__
    message = str(record[0].message)
    assert message.startswith(f"mykernels.{op.name}: an output with one or more elements")
    assert f"had shape [5], which does not match the required output shape {list(shape)}" in (
        message
    )
    assert_matches(ours, expected(op, inputs), torch.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_out_sharing_part_of_an_input_memory_is_refused(op, device):
    memory = random(8 + op.arity, device=device)
    inputs = [memory[k : k + 6] for k in range(op.arity)]
    out = memory[2 : 2 + 6]
    before = memory.clone()
    raises_like_torch(
        lambda: op.like(*inputs, out=out, **op.kwargs), lambda: into(op, *inputs, out=out), op.name
    )
    assert torch.equal(memory, before)
    # The same memory, read in another order: torch's partial overlap too.
    square = random((6, 6), device=device)
    args = [square] * op.arity
    raises_like_torch(
        lambda: op.like(*args, out=square.t(), **op.kwargs),
        lambda: into(op, *args, out=square.t()),
        op.name,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_written_tensor_whose_elements_share_memory_is_refused(op, device):
    inputs = op.inputs(SHAPE, device=device)
    out = torch.empty(1, SHAPE[1], device=device).expand(SHAPE)
    raises_like_torch(
        lambda: op.like(*inputs, out=out, **op.kwargs), lambda: into(op, *inputs, out=out), op.name
    )
    expanded = op.inputs(SHAPE, device=device, layout="expanded")
    raises_like_torch(
        lambda: torch_in_place(op)(*expanded, **op.kwargs),
        lambda: in_place(op)(*expanded, **op.kwargs),
        f"{op.name}_",
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", BINARY)
def test_in_place_on_an_input_that_would_broadcast_is_refused(op, device):
    a, b = random(SHAPE[1], device=device), random(SHAPE, device=device)
    before = a.clone()
    message = raises_like_torch(
        lambda: torch_in_place(op)(a.clone(), b), lambda: in_place(op)(a, b), f"{op.name}_"
    )
    assert f"output with shape [{SHAPE[1]}] doesn't match the broadcast shape" in message
    # An out that is such an input is not resized either.
    raises_like_torch(
        lambda: op.like(a, b, out=a, **op.kwargs), lambda: into(op, a, b, out=a), op.name
    )
    assert torch.equal(a, before)


@requires_cuda
@pytest.mark.parametrize("op", OP_PARAMS)
def test_out_on_another_device_is_refused(op):
    for device, other in (("cpu", "cuda"), ("cuda", "cpu")):
        inputs = op.inputs(SHAPE, device=device)
        out = torch.zeros(SHAPE, device=other)
        with pytest.raises(RuntimeError):
            op.like(*inputs, out=out, **op.kwargs)
        with pytest.raises(RuntimeError, match=rf"mykernels.{op.name}: expected out on {device}"):
            into(op, *inputs, out=out)
        assert not out.any()


@pytest.mark.parametrize("op", OP_PARAMS)
def test_autograd_refuses_what_torch_refuses(op):
    leaf = random(SHAPE).requires_grad_()
    others = op.inputs(SHAPE)[1:]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in"):
        torch_in_place(op)(leaf, *others)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in"):
        in_place(op)(leaf, *others, **op.kwargs)
    # out= takes no part in autograd: an input or an out that requires grad is refused.
    for inputs, out in (
        ([leaf, *others], torch.empty(SHAPE)),
        (op.inputs(SHAPE), torch.empty(SHAPE).requires_grad_()),
    ):
        raises_like_torch(
            lambda inputs=inputs, out=out: op.like(*inputs, out=out, **op.kwargs),
            lambda inputs=inputs, out=out: into(op, *inputs, out=out),
            op.name,
        )


@pytest.mark.parametrize("form", ["in-place", "out="])
@pytest.mark.parametrize("op", OP_PARAMS)
def test_writing_a_tensor_that_autograd_saved_makes_backward_raise(op, form):
    x = random(SHAPE).requires_grad_()
    weight = random(SHAPE)
    y = x * weight  # saves weight for the backward
    if form == "in-place":
        in_place(op)(weight, *op.inputs(SHAPE)[1:], **op.kwargs)
    else:
        into(op, *op.inputs(SHAPE), out=weight)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("op", OP_PARAMS)
def test_autograd_through_in_place_on_a_non_leaf(op):
    leaves = [x.double().requires_grad_() for x in op.inputs(SHAPE)]
    weight = random(SHAPE, torch.float64)
    written = leaves[0] * 1.5  # a non-leaf
    result = in_place(op)(written, *leaves[1:], **op.kwargs)
    assert result is written
    assert written.grad_fn is not None
    (written * weight).sum().backward()
    ours = [x.grad for x in leaves]
    references = [x.detach().clone().requires_grad_() for x in leaves]
    (op.reference(references[0] * 1.5, *references[1:]) * weight).sum().backward()
    for grad, reference in zip(ours, references, strict=True):
        torch.testing.assert_close(grad, reference.grad)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_forward_ad_through_in_place(op):
    primals = [x.double() for x in op.inputs(SHAPE)]
    tangents = [random(SHAPE, torch.float64) for _ in primals]
    _, reference = torch.func.jvp(lambda *xs: op.reference(*xs), tuple(primals), tuple(tangents))
    with fwAD.dual_level():
        duals = [
            fwAD.make_dual(p.clone(), t.clone()) for p, t in zip(primals, tangents, strict=True)
        ]
        in_place(op)(*duals, **op.kwargs)
        torch.testing.assert_close(fwAD.unpack_dual(duals[0]).tangent, reference)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_forward_ad_refused_by_out(op):
    # An out= form has no forward-mode derivative: a dual input or out is refused, as by torch,
    # rather than its tangent dropped.
    with fwAD.dual_level():
        inputs = op.inputs(SHAPE)
        for k in range(op.arity + 1):
            duals = [
                fwAD.make_dual(x, random(SHAPE)) if i == k else x for i, x in enumerate(inputs)
            ]
            out = torch.empty(SHAPE)
            if k == op.arity:
                out = fwAD.make_dual(out, random(SHAPE))
            for function in (op.like, getattr(mykernels, op.name)):
                with pytest.raises(NotImplementedError, match="because it is an out= function"):
                    function(*duals, **op.kwargs, out=out)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_inference_tensors(op):
    with torch.inference_mode():
        inputs = op.inputs(SHAPE)
        reference = expected(op, inputs)
        in_place(op)(*inputs, **op.kwargs)  # inside inference mode: written
        assert_matches(inputs[0], reference, torch.float32)
        out = torch.empty(SHAPE)
    raises_like_torch(
        lambda: torch_in_place(op)(*inputs),
        lambda: in_place(op)(*inputs, **op.kwargs),
        f"{op.name}_",
    )
    # An inference tensor as out, outside inference mode, likewise.
    fresh = op.inputs(SHAPE)
    raises_like_torch(
        lambda: op.like(*fresh, **op.kwargs, out=out),
        lambda: into(op, *fresh, out=out),
        op.name,
    )


@pytest.mark.parametrize("op", OP_PARAMS)
def test_out_refused_before_it_is_resized(op):
    # torch checks out's dtype, memory and device before resizing it: an out it refuses keeps its
    # shape, and no warning is given.
    inputs = op.inputs((2, 3))
    base = torch.zeros(12)
    for out in (
        torch.zeros(5, dtype=torch.long),
        torch.zeros(1).expand(4),  # elements that share memory
        *((torch.zeros(5, device="cuda"),) if torch.cuda.is_available() else ()),
    ):
        shape = out.shape
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(RuntimeError) as theirs:
                op.like(*inputs, **op.kwargs, out=out)
            with pytest.raises(RuntimeError, match=f"mykernels.{op.name}") as ours:
                into(op, *inputs, out=out)
        assert out.shape == shape
        assert type(ours.value) is type(theirs.value)
    # An out that partly overlaps an input and would need a resize: refused, as by torch.
    first = base[:6].view(2, 3)
    raises_like_torch(
        lambda: op.like(first, *inputs[1:], **op.kwargs, out=base[3:7]),
        lambda: into(op, first, *inputs[1:], out=base[3:7]),
        op.name,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_opcheck(op, device):
    inputs = op.inputs((5, 7), device=device)
    packet = getattr(torch.ops.mykernels, op.name)
    for overload, args, kwargs in (
        (packet.out, inputs, {**op.kwargs, "out": torch.empty(5, 7, device=device)}),
        (getattr(torch.ops.mykernels, f"{op.name}_").default, inputs, op.kwargs),
    ):
        torch.library.opcheck(overload, [x.clone() for x in args], kwargs)


def _call_body(code: str) -> str:
    """The generated module's `call`: what it allocates and which kernels it launches."""
    return code[code.index("def call(") :].split("\ndef ", 1)[0]


@pytest.mark.parametrize("device", DEVICES)
def test_compiled_writes_are_fused_and_make_no_copy(device):
    from torch._inductor.utils import run_and_get_code

    torch._dynamo.reset()
    x, y = random(4096, device=device), random(4096, device=device)

    def chain(x, y, out):
        return mykernels.d_sigmoid(mykernels.add(mykernels.square(x), y, alpha=0.5), out=out)

    def in_place_chain(x, y):
        mykernels.add_(x, y, alpha=0.5)
        return mykernels.square_(x)

    reference = expected(TABLE["d_sigmoid"], [mykernels.add(mykernels.square(x), y, alpha=0.5)])
    out = torch.empty(4096, device=device)
    result, codes = run_and_get_code(torch.compile(chain, fullgraph=True), x, y, out)
    assert result is out
    assert_matches(out, reference, torch.float32)
    written = x.clone()
    expected_square = (written.double() + 0.5 * y.double()) ** 2
    result, more = run_and_get_code(torch.compile(in_place_chain, fullgraph=True), written, y)
    assert result is written
    assert_matches(written, expected_square, torch.float32)
    for code in (codes, more):
        (module,) = code
        body = _call_body(module)
        # One generated kernel, which stores into the tensor written: no buffer, no copy, and
        # no mykernels operator left (the chain is fused). A CPU kernel is called as
        # cpp_fused_...(...), a CUDA one as triton_..._fused_....run(...).
        assert len(re.findall(r"\b(?:cpp|triton)_\w*fused\w*(?:\.run)?\(", body)) == 1, body
        assert "empty_strided" not in body, body
        assert "torch.ops.mykernels" not in body, body


@pytest.mark.parametrize("op", OP_PARAMS)
def test_vmap(op):
    batch = op.inputs((4, *SHAPE))
    reference = expected(op, batch)
    # In place on a batched input: each example written where it is.
    result = torch.func.vmap(lambda *xs: in_place(op)(*xs, **op.kwargs))(*batch)
    assert_matches(result, reference, torch.float32)
    assert_matches(batch[0], reference, torch.float32)
    # The operator itself, whose batching rule writes through views of the batch.
    batch = op.inputs((4, *SHAPE))
    reference = expected(op, batch)
    operator = getattr(torch.ops.mykernels, f"{op.name}_")
    torch.func.vmap(lambda *xs: (operator(*xs, **op.kwargs), xs[0])[1])(*batch)
    assert_matches(batch[0], reference, torch.float32)
    # An unbatched input cannot take a batched result; out= has no batching rule (as torch's).
    if op.arity == 2:
        single = random(SHAPE)
        with pytest.raises(RuntimeError):
            torch.func.vmap(lambda b: torch_in_place(op)(single.clone(), b))(batch[1])
        for fn in (lambda b: in_place(op)(single, b), lambda b: (operator(single, b), b)[1]):
            with pytest.raises(RuntimeError, match=r"broadcast shape|inplace arithmetic"):
                torch.func.vmap(fn)(batch[1])
    with pytest.raises(RuntimeError, match="Batching rule not implemented for aten::"):
        torch.func.vmap(lambda *xs: op.like(*xs, out=torch.empty(SHAPE)))(*batch)
    with pytest.raises(
        RuntimeError, match=f"Batching rule not implemented for mykernels::{op.name}"
    ):
        torch.func.vmap(lambda *xs: into(op, *xs, out=torch.empty(SHAPE)))(*batch)


@requires_cuda
@pytest.mark.parametrize("op", OP_PARAMS)
def test_cuda_graph_writes_into_static_buffers(op):
    static = op.inputs(SHAPE, device="cuda")
    out = torch.empty(SHAPE, device="cuda")
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # the warm-up the capture needs
        into(op, *static, out=out)
        in_place(op)(out, *static[1:], **op.kwargs)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        into(op, *static, out=out)
        in_place(op)(out, *static[1:], **op.kwargs)
    for _ in range(3):
        fresh = op.inputs(SHAPE, device="cuda")
        for buffer, value in zip(static, fresh, strict=True):
            buffer.copy_(value)
        graph.replay()
        torch.cuda.synchronize()
        once = op.reference(*(x.double() for x in fresh))
        assert_matches(out, op.reference(once, *(x.double() for x in fresh[1:])), torch.float32)


@pytest.mark.skipif(not FAST_PATH, reason="no eager fast path")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_fast_path_takes_plain_writes(op, device, monkeypatch):
    calls = python_calls(monkeypatch)  # the calls the fast path leaves to the Python functions
    inputs = op.inputs(64, device=device)
    reference = expected(op, inputs)
    out = torch.empty(64, device=device)
    assert into(op, *inputs, out=out) is out
    assert in_place(op)(*inputs, **op.kwargs) is inputs[0]
    assert into(op, *inputs, out=None).shape == out.shape  # out=None: the op itself
    assert calls == []
    assert_matches(out, reference, torch.float32)
    assert_matches(inputs[0], reference, torch.float32)
    # What the operator must convert, resize or refuse goes to it.
    into(op, *inputs, out=torch.empty(64, dtype=torch.float64, device=device))
    into(op, *inputs, out=torch.empty(0, device=device))
    with pytest.raises(RuntimeError):
        into(op, *inputs, out=torch.empty(64, device=device).requires_grad_())
    assert calls == [op.name] * 3


@pytest.mark.parametrize("op", OP_PARAMS)
def test_calling_forms(op):
    inputs = op.inputs(SHAPE)
    names = ["input", "other"][: op.arity]
    out = torch.empty(SHAPE)
    by_keyword = op.fn(**dict(zip(names, inputs, strict=True)), **op.kwargs, out=out)
    assert by_keyword is out
    with pytest.raises(TypeError):
        getattr(mykernels, op.name)(*inputs, out)  # out is keyword-only, as in torch
    with pytest.raises(TypeError):
        in_place(op)(*inputs, out=out)
    with pytest.raises(TypeError, match="out"):
        into(op, *inputs, out=3.0)
