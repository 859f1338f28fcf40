"""The ops under forward-mode AD (torch.autograd.forward_ad, torch.func.jvp, jacfwd) and vmap:
every op's derivatives and batching, checked against torch's own on the float64 reference."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.autograd.forward_ad as fwAD
from torch.func import jacfwd, jacrev, jvp, vmap

import mykernels
from helpers import DEVICES, FAST_PATH, OP_PARAMS, TABLE, random

# Shapes of the inputs, per arity: broadcasting ones for two inputs.
SHAPES = {1: [(4, 5)], 2: [(4, 5), (5,)]}


def _inputs(op, device, dtype=torch.float64):
    return [random(shape, dtype, device, scale=op.scale) for shape in SHAPES[op.arity]]


# Forward-mode AD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
@pytest.mark.parametrize("call", ["fn", "operator"])
def test_gradcheck_forward_and_batched(op, device, call):
    fn = getattr(op, call)
    inputs = [x.requires_grad_() for x in _inputs(op, device)]
    assert torch.autograd.gradcheck(
        fn,
        inputs,
        check_forward_ad=True,
        check_batched_grad=True,
        check_batched_forward_grad=True,
    )
    assert torch.autograd.gradgradcheck(fn, inputs, check_fwd_over_rev=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_jvp_matches_the_reference(op, device):
    # The reference's tangent comes from torch's own derivatives of the op's float64 math.
    primals = _inputs(op, device)
    tangents = _inputs(op, device)
    out, tangent = jvp(op.fn, tuple(primals), tuple(tangents))
    expected, expected_tangent = jvp(op.reference, tuple(primals), tuple(tangents))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(tangent, expected_tangent)
    assert tangent.abs().sum() > 0  # fresh inputs: a zero tangent would be a lost one


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_jvp_with_respect_to_each_input(op, device):
    # One input varies and the others are constants: its tangent alone, broadcast to the result.
    primals = _inputs(op, device)
    for k in range(op.arity):

        def only(x, k=k, fn=op.fn):
            return fn(*primals[:k], x, *primals[k + 1 :])

        def only_reference(x, k=k):
            return op.reference(*primals[:k], x, *primals[k + 1 :])

        tangent = random(primals[k].shape, torch.float64, device)
        _, result = jvp(only, (primals[k],), (tangent,))
        _, expected = jvp(only_reference, (primals[k],), (tangent,))
        assert result.shape == expected.shape
        torch.testing.assert_close(result, expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_jacfwd_matches_jacrev(op, device):
    primals = _inputs(op, device)
    argnums = tuple(range(op.arity))
    forward = jacfwd(op.fn, argnums=argnums)(*primals)
    reverse = jacrev(op.fn, argnums=argnums)(*primals)
    expected = jacrev(op.reference, argnums=argnums)(*primals)
    for f, r, e in zip(forward, reverse, expected, strict=True):
        torch.testing.assert_close(f, r)
        torch.testing.assert_close(f, e)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
@pytest.mark.parametrize("call", ["fn", "operator"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dual_tensors(op, device, call, dtype):
    # Plain tensors with a tangent, no gradient: the case the eager fast path would take without
    # a tangent, and must leave to the operator.
    primals = _inputs(op, device, dtype)
    tangents = _inputs(op, device, dtype)
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in zip(primals, tangents, strict=True)]
        if FAST_PATH:
            assert getattr(mykernels._C, op.name)(*duals, *op.kwargs.values()) is None
        out, tangent = fwAD.unpack_dual(getattr(op, call)(*duals))
    assert tangent is not None
    expected_out, expected = jvp(
        op.reference,
        tuple(p.double() for p in primals),
        tuple(t.double() for t in tangents),
    )
    torch.testing.assert_close(out, expected_out.to(dtype))
    torch.testing.assert_close(tangent, expected.to(dtype))


@pytest.mark.parametrize("device", DEVICES)
def test_dual_tensor_with_a_plain_one(device):
    # add of a plain tensor and a dual one of another shape and dtype: the tangent is the dual
    # input's, scaled by alpha where it is b, broadcast to the result and in its dtype.
    a = random((3, 5), torch.float32, device)
    b, tangent = random((5,), torch.float16, device), random((5,), torch.float16, device)
    with fwAD.dual_level():
        for first, alpha in ((True, 1.0), (False, -2.5)):
            dual = fwAD.make_dual(b, tangent)
            args = (dual, a) if first else (a, dual)
            out, result = fwAD.unpack_dual(mykernels.add(*args, alpha=alpha))
            assert result is not None
            assert (result.shape, result.dtype) == (out.shape, out.dtype) == ((3, 5), torch.float32)
            scale = 1.0 if first else alpha
            torch.testing.assert_close(result, (scale * tangent.float()).expand(3, 5))


@pytest.mark.parametrize("device", DEVICES)
def test_d_sigmoid_tangent_at_the_extremes(device):
    # The derivative s(1 - s)(1 - 2s) is 0 at 0 and at +-inf, and NaN for NaN.
    z = torch.tensor([0.0, float("inf"), -float("inf"), float("nan"), 40.0, -40.0], device=device)
    _, tangent = jvp(mykernels.d_sigmoid, (z.double(),), (torch.ones_like(z, dtype=torch.float64),))
    s = torch.sigmoid(z.double())
    expected = s * (1 - s) * (1 - 2 * s)
    expected[1:3] = 0
    torch.testing.assert_close(tangent, expected, equal_nan=True)


# Higher derivatives through torch.func ------------------------------------------------------------


def _scalar(op, fn, primals, k):
    """x -> sum(fn(inputs with x as the k-th) ** 2): a scalar function of one input, whose second
    derivative involves the op's output as well as its inputs."""

    def f(x):
        return (fn(*primals[:k], x, *primals[k + 1 :]) ** 2).sum()

    return f


SECOND_ORDER = {
    "hessian": torch.func.hessian,
    "grad of grad": lambda f: jacrev(jacrev(f)),
    "jacrev of jacfwd": lambda f: jacrev(jacfwd(f)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
@pytest.mark.parametrize("order", list(SECOND_ORDER))
def test_second_derivatives(op, device, order):
    primals = [random(shape[-1:], torch.float64, device) for shape in SHAPES[op.arity]]
    for k in range(op.arity):
        result = SECOND_ORDER[order](_scalar(op, op.fn, primals, k))(primals[k])
        expected = SECOND_ORDER[order](_scalar(op, op.reference, primals, k))(primals[k])
        torch.testing.assert_close(result, expected)
        assert result.abs().sum() > 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_torch_func_under_autograd(op, device):
    # A torch.func gradient, then torch.autograd through it: a second derivative across the two.
    primals = _inputs(op, device)
    grads = []
    for fn in (op.fn, op.reference):
        x = primals[0].clone().requires_grad_()
        g = torch.func.grad(_scalar(op, fn, primals, 0))(x)
        (g * g).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(*grads)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_unsupported_nesting_raises(op, device):
    # Never a silently wrong derivative: forward over forward mode (torch.func differentiates an
    # autograd.Function's forward rule once), and the operator at two levels at once.
    primals = [random(shape[-1:], torch.float64, device) for shape in SHAPES[op.arity]]
    with pytest.raises(NotImplementedError, match="forward mode over forward mode"):
        jacfwd(jacfwd(_scalar(op, op.fn, primals, 0)))(primals[0])
    with pytest.raises(NotImplementedError, match="several levels at once"):
        torch.func.hessian(_scalar(op, op.operator, primals, 0))(primals[0])


# vmap --------------------------------------------------------------------------------------------

FALLBACK_WARNING = "performance drop because we have not yet implemented the batching rule"


@pytest.fixture
def no_fallback(capfd, recwarn):
    """Fails the test if vmap fell back to its slow loop for an op without a batching rule (the
    warning goes to the C++ log or to Python's warnings, depending on the call)."""
    yield
    assert FALLBACK_WARNING not in capfd.readouterr().err
    assert not [w for w in recwarn if FALLBACK_WARNING in str(w.message)]


def _move(x: torch.Tensor, dim: int | None, size: int) -> torch.Tensor:
    """A batch of `size` fresh copies like x, stacked along `dim` (x itself where dim is None)."""
    if dim is None:
        return x
    return torch.stack([random(x.shape, x.dtype, x.device) for _ in range(size)], dim)


IN_DIMS = {
    1: [(0,), (1,), (-1,)],
    2: [(0, 0), (1, None), (None, 0), (0, 1), (-1, None)],
}


@pytest.mark.usefixtures("no_fallback")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
@pytest.mark.parametrize("call", ["fn", "operator"])
def test_vmap(op, device, call):
    fn = getattr(op, call)
    for in_dims in IN_DIMS[op.arity]:
        logical = _inputs(op, device, torch.float32)
        batched = [_move(x, d, 3) for x, d in zip(logical, in_dims, strict=True)]
        result = vmap(fn, in_dims=in_dims)(*batched)
        expected = vmap(op.reference, in_dims=in_dims)(*(x.double() for x in batched))
        torch.testing.assert_close(result, expected.float(), msg=f"in_dims={in_dims}")


@pytest.mark.usefixtures("no_fallback")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_nested_vmap(op, device):
    logical = _inputs(op, device, torch.float32)
    # The inner vmap maps dimension 0 of the first input only, the outer one every input's last.
    batched = [_move(x, 0, 2) if k == 0 else x for k, x in enumerate(logical)]
    batched = [_move(x, -1, 3) for x in batched]
    inner_dims = (0,) + (None,) * (op.arity - 1)
    result = vmap(vmap(op.fn, in_dims=inner_dims), in_dims=-1)(*batched)
    expected = vmap(vmap(op.reference, in_dims=inner_dims), in_dims=-1)(
        *(x.double() for x in batched)
    )
    torch.testing.assert_close(result, expected.float())


@pytest.mark.usefixtures("no_fallback")
@pytest.mark.parametrize("device", DEVICES)
def test_vmap_keeps_type_promotion(device):
    # A batch of 0-dim float32 tensors added to a float16 vector: each call promotes like
    # torch.add (a 0-dim tensor does not widen a dimensioned one), so the result is float16,
    # though the batched float32 tensor has a dimension.
    a = random((4,), torch.float32, device)
    b = random((3,), torch.float16, device)
    for fn in (mykernels.add, torch.add):
        assert vmap(fn, in_dims=(0, None))(a, b).dtype == torch.float16
        assert vmap(fn, in_dims=(None, 0))(b, a).dtype == torch.float16
    result = vmap(functools.partial(mykernels.add, alpha=-0.5), in_dims=(0, None))(a, b)
    expected = vmap(functools.partial(torch.add, alpha=-0.5), in_dims=(0, None))(a, b)
    torch.testing.assert_close(result, expected)


@pytest.mark.usefixtures("no_fallback")
@pytest.mark.parametrize("device", DEVICES)
def test_per_sample_gradients(device):
    # vmap over grad: the batching rules and the autograd kernel together, as in per-sample
    # gradients of a loss.
    square, d_sigmoid = TABLE["square"], TABLE["d_sigmoid"]
    x = random((6, 4), torch.float64, device)

    def loss(square, d_sigmoid, row):
        return square(d_sigmoid(row)).sum()

    result = vmap(torch.func.grad(functools.partial(loss, square.fn, d_sigmoid.fn)))(x)
    expected = vmap(
        torch.func.grad(functools.partial(loss, square.reference, d_sigmoid.reference))
    )(x)
    torch.testing.assert_close(result, expected)
