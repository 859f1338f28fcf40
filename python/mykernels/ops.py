"""The public operators, their fake kernels and their autograd formulas.

The operators are declared and implemented in C++ (``cpp/binding/operators.cpp``) as ``torch.ops.mykernels.*``.
This module adds what ``torch.compile`` and autograd need: a fake kernel per op that produces the
output's metadata (shape, dtype, strides, device) exactly as the C++ kernels do, and a backward
formula per op written with differentiable torch operations, so that double backward works.
"""

from __future__ import annotations

import torch

from . import _C

_ops = torch.ops.mykernels
_SUPPORTED = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


# The call path. Each public function first tries mykernels._C's eager fast path
# (cpp/binding/fast_path.cpp), which runs the operator's C++ implementation directly when its arguments are
# plain tensors that need no gradient and no mode, profiler or other dispatch layer is active, and
# returns None otherwise. Then the operator is called as torch.ops.mykernels.*: below the autograd
# layer when no input needs a gradient (that layer's kernel, written in Python by
# torch.library.register_autograd, would only re-dispatch), through it otherwise. BENCHMARKS.md has
# the cost of each path. dynamo does not trace the public functions (torch.compiler.allow_in_graph):
# it puts each call in its graph as it is, and the tracers that turn that graph into operators
# (AOTAutograd, make_fx, export) run the function with fake tensors or under a dispatch mode,
# which the fast path declines by itself, so the graph gets the operator. Eager calls pay no
# compile check for it.
_square_fast, _add_fast, _d_sigmoid_fast = _C.square, _C.add, _C.d_sigmoid


def _call(op: torch._ops.OpOverload, tensors: dict[str, object], *args, **kwargs) -> torch.Tensor:
    """Calls `op` on the tensors (by argument name) and the other arguments, as the dispatcher
    would, after the checks that give a short message where the dispatcher's would be long."""
    for name, value in tensors.items():
        _check_tensor(op._opname, name, value)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors.values()):
        return op(*tensors.values(), *args, **kwargs)
    with torch._C._AutoDispatchBelowAutograd():
        return op(*tensors.values(), *args, **kwargs)


def _check_alpha(alpha: object) -> None:
    # The operator's alpha is a float (the stable ABI has no Scalar): bool and complex alphas,
    # which torch.add treats as such, are refused here with a message that says so. (A plain
    # raise, which dynamo traces; torch._check with a message closure breaks its graph.)
    if isinstance(alpha, (bool, complex)):
        raise RuntimeError(f"mykernels.add: alpha must be a real number, got {alpha!r}")


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


@torch.compiler.allow_in_graph
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
    out = _square_fast(x)
    if out is not None:
        return out
    return _call(_ops.square.default, {"x": x})


@torch.compiler.allow_in_graph
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
    out = _add_fast(a, b, alpha)
    if out is not None:
        return out
    _check_alpha(alpha)
    # The schema's default is left out: keyword arguments cost time to parse.
    if alpha == 1:
        return _call(_ops.add.default, {"a": a, "b": b})
    return _call(_ops.add.default, {"a": a, "b": b}, alpha=float(alpha))


@torch.compiler.allow_in_graph
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
    out = _d_sigmoid_fast(z)
    if out is not None:
        return out
    return _call(_ops.d_sigmoid.default, {"z": z})


# Fake kernels: the same checks and output metadata as cpp/binding/operators.cpp, for torch.compile and meta
# tensors.


def _check_dtype(op: str, dtype: torch.dtype) -> None:
    torch._check(
        dtype in _SUPPORTED,
        lambda: (
            f"mykernels.{op}: expected a tensor of dtype float32, float64, float16 or "
            f"bfloat16, got {dtype}"
        ),
    )


@torch.library.register_fake("mykernels::square")
def _square_fake(x: torch.Tensor) -> torch.Tensor:
    _check_dtype("square", x.dtype)
    return torch.empty_like(x)


@torch.library.register_fake("mykernels::d_sigmoid")
def _d_sigmoid_fake(z: torch.Tensor) -> torch.Tensor:
    promoted = z.dtype.is_floating_point or z.dtype.is_complex
    dtype = z.dtype if promoted else torch.get_default_dtype()
    _check_dtype("d_sigmoid", dtype)
    return torch.empty_like(z, dtype=dtype)


@torch.library.register_fake("mykernels::add")
def _add_fake(a: torch.Tensor, b: torch.Tensor, *, alpha: float = 1) -> torch.Tensor:
    torch._check(
        a.device == b.device,
        lambda: (
            f"mykernels.add: expected a and b on the same device, got {a.device} and {b.device}"
        ),
    )
    dtype = torch.result_type(a, b)
    _check_dtype("add", dtype)
    shape = torch.broadcast_shapes(a.shape, b.shape)
    if a.shape == shape:
        return torch.empty_like(a, dtype=dtype)
    return a.new_empty(shape, dtype=dtype)


# Autograd. Each backward is made of differentiable operations, so gradients of gradients work.


def _square_setup(ctx, inputs, output) -> None:
    (x,) = inputs
    ctx.save_for_backward(x)


def _square_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    (x,) = ctx.saved_tensors
    return grad * 2 * x


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


def _d_sigmoid_setup(ctx, inputs, output) -> None:
    (z,) = inputs
    ctx.save_for_backward(z, output)


def _d_sigmoid_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    # d/dz [s(1 - s)] = s(1 - s)(1 - 2s), and 1 - 2s = -tanh(z / 2) without the cancellation.
    z, out = ctx.saved_tensors
    return -grad * out * torch.tanh(z / 2)


torch.library.register_autograd("mykernels::square", _square_backward, setup_context=_square_setup)
torch.library.register_autograd("mykernels::add", _add_backward, setup_context=_add_setup)
torch.library.register_autograd(
    "mykernels::d_sigmoid", _d_sigmoid_backward, setup_context=_d_sigmoid_setup
)
