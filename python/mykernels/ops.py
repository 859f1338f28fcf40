"""The public functions, and what torch needs of each op beyond its C++ operator.

Every op is described once in C++, in the op table (``cpp/core/ops.h``): its schema, its math and
how its result dtype follows from its inputs'. From that table ``mykernels._C`` registers the
operators (``torch.ops.mykernels.*``) and holds their eager fast path, and this module registers a
fake kernel for each (the output's metadata for ``torch.compile`` and meta tensors, by the table's
promotion rule: ``_fake_kernel``). What is written here, op by op: the public function, the
autograd formula (made of differentiable torch operations, so that double backward works) and
torch's own equivalent, which ``python -m mykernels`` and the benchmark compare against.
``docs/adding-an-op.md`` walks through adding an op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import _C

_operators = torch.ops.mykernels
_SUPPORTED = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Op:
    """An op as Python sees it."""

    name: str
    function: Callable[..., torch.Tensor]  # the public function, mykernels.<name>
    torch_equivalent: Callable[..., torch.Tensor]  # torch's own, taking the same arguments
    arity: int  # the number of tensor arguments
    floats: tuple[str, ...]  # the names of the float arguments (keywords of the public function)


OPS: dict[str, Op] = {}
__all__: list[str] = []


# The call path. Each public function first calls the op's eager fast path, mykernels._C.<name>
# (cpp/binding/fast_path.cpp), which runs the operator's C++ implementation directly when its
# arguments are plain tensors that need no gradient and no mode, profiler or other dispatch layer
# is active, and returns None otherwise. Then `_call` calls the operator, torch.ops.mykernels.*:
# below the autograd layer when no input needs a gradient (that layer's kernel, written in Python
# by torch.library.register_autograd, would only re-dispatch), through it otherwise.
# BENCHMARKS.md has the cost of each path. dynamo does not trace the public functions
# (torch.compiler.allow_in_graph): it puts each call in its graph as it is, and the tracers that
# turn that graph into operators (AOTAutograd, make_fx, export) run the function with fake tensors
# or under a dispatch mode, which the fast path declines by itself, so the graph gets the
# operator. Eager calls pay no compile check for it.


@dataclass(frozen=True)
class _Schema:
    overload: torch._ops.OpOverload
    tensors: tuple[str, ...]  # the tensor arguments' names
    defaults: dict[str, object]  # the float arguments' defaults


def _schema(name: str) -> _Schema:
    overload = getattr(_operators, name).default
    arguments = overload._schema.arguments
    return _Schema(
        overload,
        tuple(a.name for a in arguments if isinstance(a.type, torch.TensorType)),
        {a.name: a.default_value for a in arguments if not isinstance(a.type, torch.TensorType)},
    )


_SCHEMAS = {name: _schema(name) for name in _C.ops}


def _call(name: str, *tensors: object, **scalars: object) -> torch.Tensor:
    """Calls the operator `name` on the tensors and the float arguments, as the dispatcher would,
    after the checks that give a short message where the dispatcher's would be long."""
    schema = _SCHEMAS[name]
    # The float arguments at their defaults are left out: keyword arguments cost time to parse.
    kwargs = {}
    for argument, value in scalars.items():
        _check_scalar(name, argument, value)
        if value != schema.defaults[argument]:
            kwargs[argument] = float(value)
    for argument, value in zip(schema.tensors, tensors, strict=True):
        _check_tensor(name, argument, value)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return schema.overload(*tensors, **kwargs)
    with torch._C._AutoDispatchBelowAutograd():
        return schema.overload(*tensors, **kwargs)


def _check_tensor(op: str, name: str, value: object) -> None:
    """Turns what the dispatcher would reject with a long, generic message into a short one."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"mykernels.{op}: expected a torch.Tensor for {name}, got {type(value).__name__}"
        )
    if value.layout != torch.strided:
        raise RuntimeError(
            f"mykernels.{op}: expected a dense (strided) tensor for {name}, got {value.layout}; "
            f"convert it with {name}.to_dense()"
        )
    if value.is_quantized:
        raise RuntimeError(
            f"mykernels.{op}: expected a floating-point tensor for {name}, got a quantized "
            f"{value.dtype} tensor; convert it with {name}.dequantize()"
        )


def _check_scalar(op: str, name: str, value: object) -> None:
    # A float argument of the schema (the stable ABI has no Scalar): bool and complex values, which
    # torch's Scalar arguments take as such, are refused with a message that says so. (A plain
    # raise, which dynamo traces; torch._check with a message closure breaks its graph.)
    if isinstance(value, (bool, complex)):
        raise RuntimeError(f"mykernels.{op}: {name} must be a real number, got {value!r}")


def _define(
    *,
    torch_equivalent: Callable[..., torch.Tensor],
    setup_context: Callable[..., None],
    backward: Callable[..., object],
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Makes the decorated function the public function of the op of its name: registers the
    op's autograd formula and lists it in OPS and __all__."""

    def define(function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        name = function.__name__
        if name not in _C.ops:
            raise ImportError(
                f"mykernels.ops defines {name}, which the op table (cpp/core/ops.h) of this build "
                "does not have: rebuild mykernels"
            )
        torch.library.register_autograd(f"mykernels::{name}", backward, setup_context=setup_context)
        public = torch.compiler.allow_in_graph(function)
        schema = _SCHEMAS[name]
        OPS[name] = Op(name, public, torch_equivalent, len(schema.tensors), tuple(schema.defaults))
        __all__.append(name)
        return public

    return define


# square ------------------------------------------------------------------------------------------


def _square_setup(ctx, inputs, output) -> None:
    (x,) = inputs
    ctx.save_for_backward(x)


def _square_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    (x,) = ctx.saved_tensors
    return grad * 2 * x


@_define(torch_equivalent=torch.square, setup_context=_square_setup, backward=_square_backward)
def square(x: torch.Tensor) -> torch.Tensor:
    """Return ``x * x`` elementwise, like :func:`torch.square`.

    Args:
        x: a float32, float64, float16 or bfloat16 tensor on the CPU or a CUDA device, of any shape
            and strides.

    Returns:
        A new tensor of x's shape, dtype and device (float16 and bfloat16 are computed in float32
        and rounded once).

    Raises:
        RuntimeError: x has another dtype, or is on a device mykernels has no kernel for.
    """
    out = _C.square(x)
    return out if out is not None else _call("square", x)


# add ---------------------------------------------------------------------------------------------


def _add_setup(ctx, inputs, keyword_only_inputs, output) -> None:
    a, b = inputs
    ctx.alpha = keyword_only_inputs.get("alpha", 1)
    ctx.a_meta = (a.shape, a.dtype)
    ctx.b_meta = (b.shape, b.dtype)


def _add_backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    # Undo the broadcast by summing over the broadcast dimensions, and the type promotion by
    # casting back to each input's dtype.
    grad_a = grad_b = None
    if ctx.needs_input_grad[0]:
        shape, dtype = ctx.a_meta
        grad_a = grad.sum_to_size(shape).to(dtype)
    if ctx.needs_input_grad[1]:
        shape, dtype = ctx.b_meta
        scaled = grad if ctx.alpha == 1 else grad * ctx.alpha
        grad_b = scaled.sum_to_size(shape).to(dtype)
    return grad_a, grad_b


@_define(torch_equivalent=torch.add, setup_context=_add_setup, backward=_add_backward)
def add(a: torch.Tensor, b: torch.Tensor, *, alpha: float = 1) -> torch.Tensor:
    """Return ``a + alpha * b`` elementwise, like :func:`torch.add`.

    a and b broadcast against each other, and the result has their promoted dtype
    (:func:`torch.result_type`), which must be float32, float64, float16 or bfloat16. Both inputs
    are converted to that dtype before the sum, as torch does for GPU tensors (for a 0-dim CPU
    operand wider than the result, torch keeps its full precision instead).

    Args:
        a, b: tensors on the same device (the CPU or one CUDA device).
        alpha: a real multiplier of b.

    Returns:
        A new tensor of the broadcast shape. It has a's strides when a already has that shape and
        is dense, and is contiguous otherwise.

    Raises:
        RuntimeError: the shapes do not broadcast, the tensors are on different devices, the
            promoted dtype is not supported, or alpha is a bool or complex.
    """
    out = _C.add(a, b, alpha)
    return out if out is not None else _call("add", a, b, alpha=alpha)


# d_sigmoid ---------------------------------------------------------------------------------------


def _d_sigmoid_setup(ctx, inputs, output) -> None:
    (z,) = inputs
    ctx.save_for_backward(z, output)


def _d_sigmoid_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    # d/dz [s(1 - s)] = s(1 - s)(1 - 2s), and 1 - 2s = -tanh(z / 2) without the cancellation.
    z, out = ctx.saved_tensors
    return -grad * out * torch.tanh(z / 2)


def _eager_d_sigmoid(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return (1 - s) * s


@_define(
    torch_equivalent=_eager_d_sigmoid,
    setup_context=_d_sigmoid_setup,
    backward=_d_sigmoid_backward,
)
def d_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """Return the derivative of the sigmoid, ``s * (1 - s)`` with ``s = sigmoid(z)``, elementwise.

    Computed as ``t / (1 + t)**2`` with ``t = exp(-|z|)``: in [0, 0.25] for every z (0 at
    +-inf), exactly 0.25 at 0, NaN for NaN.

    Args:
        z: a float32, float64, float16 or bfloat16 tensor, or an integer or bool tensor, which is
            promoted to the default float dtype like :func:`torch.sigmoid` does.

    Returns:
        A new tensor of z's shape and device.

    Raises:
        RuntimeError: z is complex, or on a device mykernels has no kernel for.
    """
    out = _C.d_sigmoid(z)
    return out if out is not None else _call("d_sigmoid", z)


# Fake kernels, one per op of the table: the same checks and output metadata as the C++ operators
# (cpp/binding/operators.cpp), for torch.compile and meta tensors.


def _check_dtype(op: str, dtype: torch.dtype) -> None:
    torch._check(
        dtype in _SUPPORTED,
        lambda: (
            f"mykernels.{op}: expected a tensor of dtype float32, float64, float16 or "
            f"bfloat16, got {dtype}"
        ),
    )


def _listed(items: list[str]) -> str:
    """'a and b', 'x, y and z'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _fake_kernel(name: str, promotion: str) -> Callable[..., torch.Tensor]:
    if promotion not in ("common", "integer_to_float"):
        raise ImportError(f"mykernels.ops: the promotion rule {promotion!r} of {name} is unknown")
    names = _SCHEMAS[name].tensors

    def fake(*tensors: torch.Tensor, **scalars: float) -> torch.Tensor:
        first = tensors[0]
        devices = [str(t.device) for t in tensors]
        torch._check(
            all(t.device == first.device for t in tensors),
            lambda: (
                f"mykernels.{name}: expected {_listed(list(names))} on the same device, "
                f"got {_listed(devices)}"
            ),
        )
        dtype = first.dtype if len(tensors) == 1 else torch.result_type(*tensors)
        if promotion == "integer_to_float" and not (dtype.is_floating_point or dtype.is_complex):
            dtype = torch.get_default_dtype()
        _check_dtype(name, dtype)
        shape = torch.broadcast_shapes(*(t.shape for t in tensors))
        if first.shape == shape:
            return torch.empty_like(first, dtype=dtype)
        return first.new_empty(shape, dtype=dtype)

    fake.__name__ = f"_{name}_fake"
    return fake


for _name, _promotion in _C.ops.items():
    if _name not in OPS:
        raise ImportError(
            f"the op table (cpp/core/ops.h) has {_name}, but mykernels.ops defines no public "
            "function for it (docs/adding-an-op.md)"
        )
    torch.library.register_fake(f"mykernels::{_name}")(_fake_kernel(_name, _promotion))
