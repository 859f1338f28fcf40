"""The public functions, and what torch needs of each op beyond its C++ operator.

Every op is described once in C++, in the op table (``cpp/core/ops.h``): its schema, its math and
how its result dtype follows from its inputs'. From that table the op library (``_library``)
registers the operators (``torch.ops.mykernels.*``), the binding (``_binding``) holds their eager
fast path, and this module registers a
fake kernel for each (the output's metadata for ``torch.compile`` and meta tensors, by the table's
promotion rule: ``_fake_kernel``) and a batching rule for vmap (``_batching_rule``). What is
written here, op by op: the public function, the derivatives (backward and forward-mode rules,
made of differentiable torch operations, so that higher derivatives work) and
torch's own equivalent, which ``python -m mykernels`` and the benchmark compare against.
``docs/adding-an-op.md`` walks through adding an op.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import torch

from . import _binding, _dtensor, _inductor, _library
from . import _hooks as hooks

_operators = torch.ops.mykernels
_SUPPORTED = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Op:
    """An op as Python sees it."""

    name: str
    function: Callable[..., torch.Tensor]  # the public function, mykernels.<name>
    # The op's Python function, which calls the operator: the public function where there is no
    # binding, and where the binding's fast path declines.
    python_function: Callable[..., torch.Tensor]
    torch_equivalent: Callable[..., torch.Tensor]  # torch's own, taking the same arguments
    arity: int  # the number of tensor arguments
    floats: tuple[str, ...]  # the names of the float arguments (keywords of the public function)
    # The in-place form, mykernels.<name>_, and its Python function (`_in_place`).
    in_place: Callable[..., torch.Tensor] | None = None
    in_place_python_function: Callable[..., torch.Tensor] | None = None


OPS: dict[str, Op] = {}
# The public functions, two per op of the table, <name> and <name>_ (checked at the end of this
# module): a static list, which type checkers read.
__all__ = ["add", "add_", "d_sigmoid", "d_sigmoid_", "square", "square_"]
# A public function has its Python function's signature (_define).
_F = TypeVar("_F", bound=Callable[..., torch.Tensor])


# The call path. The function defined here for each op is its Python function: it calls the
# operator through `_call`. Where the binding is loaded (`_binding`), the public function,
# mykernels.<name>, is a C function (`_C._public`, cpp/binding/fast_path.cpp) with the same
# signature and docstring, and otherwise the Python function itself. The C function runs the
# op's eager fast path, which runs the operator's C++ implementation directly when its arguments
# are plain tensors that need no gradient and no mode, profiler or other dispatch layer is
# active, and calls the Python function otherwise, so that a call the fast path takes runs no
# Python frame. `_call` calls the operator, torch.ops.mykernels.*:
# below the autograd layer when no input needs a gradient and no forward-mode AD level is open
# (that layer's kernel, `_derivatives`, would only re-dispatch), through it otherwise; under
# torch.func's transforms, the op's autograd.Function instead, which torch.func applies level by
# level.
# BENCHMARKS.md has the cost of each path. dynamo does not trace the public functions
# (allow_in_graph, once dynamo is imported): it puts each call in its graph as it is, and the
# tracers that turn that graph into operators (AOTAutograd, make_fx, export) run the function with
# fake tensors or under a dispatch mode, which the fast path declines by itself, so the graph gets
# the operator. Eager calls pay no compile check for it.


def _builtin_doc(function: Callable[..., torch.Tensor]) -> str:
    """The public function's docstring as CPython's C functions carry it: the text signature,
    which inspect.signature and help read, then the Python function's docstring."""
    signature = inspect.signature(function)
    plain = signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )
    return f"{function.__name__}($module, {str(plain)[1:]}\n--\n\n{inspect.getdoc(function)}"


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


_SCHEMAS = {name: _schema(name) for name in _library.OPS}


def _call(
    name: str, *tensors: object, out: torch.Tensor | None = None, **scalars: object
) -> torch.Tensor:
    """Calls the operator of `name` (an op, or its in-place form: add_) on the tensors and the float
    arguments, as the dispatcher would, after the checks that give a short message where the
    dispatcher's would be long; with `out`, its out= form."""
    in_place = name.endswith("_")
    schema = _SCHEMAS[name[:-1] if in_place else name]
    # The float arguments at their defaults are left out: keyword arguments cost time to parse.
    kwargs = {}
    for argument, value in scalars.items():
        _check_scalar(name, argument, value)
        if value != schema.defaults[argument]:
            kwargs[argument] = float(value)
    for argument, value in zip(schema.tensors, tensors, strict=True):
        _check_tensor(name, argument, value)
    if in_place or out is not None:
        return _write(name, tensors, out, kwargs)
    if torch._C._are_functorch_transforms_active():
        # torch.func's transforms, at any depth: the op's derivatives as an autograd.Function,
        # which torch.func applies level by level (_derivatives).
        if _levels(torch._C._functorch.TransformType.Jvp) > 1:
            # torch.func differentiates an autograd.Function's forward rule once: the tangent of
            # a tangent would be zero.
            raise NotImplementedError(
                f"mykernels.{name}: forward mode over forward mode (jvp of jvp, jacfwd of "
                "jacfwd) is not supported; hessian (jacfwd of jacrev) and jacrev of jacfwd are"
            )
        values = [scalars.get(key, default) for key, default in schema.defaults.items()]
        return _TRANSFORMABLE[name].apply(*tensors, *(float(v) for v in values))
    if _forward_ad_active() or (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)):
        return schema.overload(*tensors, **kwargs)
    with torch._C._AutoDispatchBelowAutograd():
        return schema.overload(*tensors, **kwargs)


# The forms that write into a tensor: mykernels.<name>(..., out=out), into out, and
# mykernels.<name>_(input, ...), into input. Their operators, <name>.out and <name>_ (made from the
# op's schema by the op library), return nothing: torch.compile functionalizes no custom operator
# whose result aliases an input. The public functions return the tensor written, as torch's do.
# Besides their CPU and CUDA kernels, each has, registered here (_register_writes):
# - an ADInplaceOrView kernel, which moves the written tensor's version counter after the write,
#   as torch's in-place kernels do, so that autograd refuses a backward that saved its old value;
# - an Autograd kernel: out= refuses tensors that require grad, as torch's out= forms do; an
#   in-place call that autograd must record runs as the op, then torch's copy_ into the input
#   (_write_through_copy), whose autograd refuses a leaf that requires grad and records the rest;
# - that same composition as its CompositeImplicitAutograd kernel, which torch uses wherever it
#   decomposes an operator: functionalization (torch.compile, torch.export), fake and meta
#   tensors, DTensor. So a compiled graph holds the op itself, which Inductor fuses with its
#   neighbours, and a copy_ into the written tensor, which Inductor turns into the fused kernel's
#   store: no copy is left;
# - for the in-place form, a batching rule (vmap). vmap of an out= call fails, as for torch's ops.
_VARIANTS: dict[str, torch._ops.OpOverload] = {}


def _write(
    name: str, tensors: tuple, out: torch.Tensor | None, scalars: dict[str, float]
) -> torch.Tensor:
    """The out= or in-place call of the public function `name`: writes, and returns the tensor
    written."""
    target = tensors[0] if out is None else out
    if out is None:
        _refuse_inference_tensor(name, target)
        if torch._C._are_functorch_transforms_active():
            # torch.func: the op, then copy_ into the input, which torch.func knows how to treat.
            return _write_through_copy(
                name, OPS[name[:-1]].python_function, tensors, None, scalars, keep_input=True
            )
        overload = _VARIANTS[name]
        if _forward_ad_active() or (
            torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
        ):
            overload(*tensors, **scalars)  # through its Autograd kernel, which records it
            return target
    else:
        _check_tensor(name, "out", out)
        _refuse_inference_tensor(name, out)
        _refuse_gradients(name, (*tensors, out))
        shape = _broadcast_shape(tensors)
        if out.shape != shape and out.numel() != 0 and _resizable(out, tensors):
            # torch's warning, where Python's warnings reach the user (the operator's goes to
            # standard error); the operator resizes the emptied out as a new result is laid out.
            warnings.warn(_resize_warning(name, out.shape, shape), UserWarning, stacklevel=4)
            out.resize_(0)
        overload = _VARIANTS[f"{name}.out"]
        scalars = {**scalars, "out": out}
    # Nothing for autograd to record: the kernel, then the version counter, as the Autograd and
    # ADInplaceOrView kernels would do it, without their Python calls.
    with torch._C._AutoDispatchBelowADInplaceOrView():
        overload(*tensors, **scalars)
    torch.autograd.graph.increment_version(target)
    return target


def _resizable(out: torch.Tensor, tensors: tuple[torch.Tensor, ...]) -> bool:
    """Whether the operator would take `out` (of another shape) and resize it: torch checks the
    dtype, device and memory of out before resizing it, so an out refused for these stays as it
    was. Where out shares memory with an input, the operator decides (and warns on standard
    error)."""
    return (
        (out.dtype.is_floating_point or out.dtype.is_complex)
        and out.device == tensors[0].device
        and torch._debug_has_internal_overlap(out) != 1
        and all(out.untyped_storage().data_ptr() != t.untyped_storage().data_ptr() for t in tensors)
    )


def _broadcast_shape(tensors: tuple[torch.Tensor, ...]) -> torch.Size:
    """torch.broadcast_shapes of the tensors' shapes, without its cost where they are equal."""
    shape = tensors[0].shape
    if all(t.shape == shape for t in tensors[1:]):
        return shape
    return torch.broadcast_shapes(*(t.shape for t in tensors))


def _refuse_inference_tensor(name: str, target: torch.Tensor) -> None:
    if target.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError(
            f"mykernels.{name}: Inplace update to inference tensor outside InferenceMode is not "
            "allowed. You can make a clone to get a normal tensor before doing inplace update."
        )


def _refuse_gradients(name: str, tensors: tuple[torch.Tensor, ...]) -> None:
    """out= takes no part in autograd, reverse or forward mode, as torch's out= forms."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        raise RuntimeError(
            f"mykernels.{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    if _forward_ad_active() and any(
        torch.autograd.forward_ad.unpack_dual(t).tangent is not None for t in tensors
    ):
        raise NotImplementedError(
            f"mykernels.{name}: Trying to use forward AD with {name}.out that does not support it "
            "because it is an out= function"
        )


def _resize_warning(name: str, given: torch.Size, shape: torch.Size) -> str:
    return (
        f"mykernels.{name}: an output with one or more elements was resized since it had shape "
        f"{list(given)}, which does not match the required output shape {list(shape)}. This "
        "behavior is deprecated, and in a future PyTorch release outputs will not be resized "
        "unless they have zero elements. You can explicitly reuse an out tensor t by resizing it, "
        "inplace, to zero elements with t.resize_(0)."
    )


def _type_name(dtype: torch.dtype) -> str:
    """torch's C++ name of a dtype, as its messages print it (Float, Long)."""
    return torch.empty(0, dtype=dtype).type().removeprefix("torch.").removesuffix("Tensor")


def _write_through_copy(
    name: str,
    function: Callable[..., torch.Tensor],
    tensors: tuple,
    out: torch.Tensor | None,
    scalars: dict[str, object],
    *,
    keep_input: bool = False,
) -> torch.Tensor:
    """The out= or in-place call of `name` as the op's `function`, then torch's copy_ into the
    tensor written, with the operator's checks first (copy_ would convert any dtype, and
    broadcast). With `keep_input`, an in-place call gives the op a copy of its input, which
    autograd may have saved, as torch's in-place ops keep what their derivative needs."""
    op = name.removesuffix("_")
    target = tensors[0] if out is None else out
    dtype = _result_dtype(op, *tensors)
    shape = _broadcast_shape(tensors)
    if not (target.dtype.is_floating_point or target.dtype.is_complex):
        raise RuntimeError(
            f"mykernels.{name}: result type {_type_name(dtype)} can't be cast to the desired "
            f"output type {_type_name(target.dtype)}"
        )
    if out is None or any(out is t for t in tensors):
        torch._check(
            target.shape == shape,
            lambda: (
                f"mykernels.{name}: output with shape {list(target.shape)} doesn't match the "
                f"broadcast shape {list(shape)}"
            ),
        )
    elif out.shape != shape:
        if out.numel() != 0:
            warnings.warn(_resize_warning(name, out.shape, shape), UserWarning, stacklevel=2)
        out.resize_(shape)
    if keep_input and out is None:
        tensors = (tensors[0].clone(), *tensors[1:])
    return target.copy_(function(*tensors, **scalars))


def _register_writes(name: str) -> None:
    """Registers what torch needs of the op's out= and in-place operators beyond their CPU and CUDA
    kernels (above)."""
    schema = _SCHEMAS[name]
    arity = len(schema.tensors)
    functional = schema.overload
    for variant, in_place in ((f"{name}_", True), (f"{name}.out", False)):
        packet = getattr(_operators, variant.split(".")[0])
        overload = packet.default if in_place else packet.out
        _VARIANTS[variant] = overload
        public_name = variant.removesuffix(".out")

        def written(args: tuple, kwargs: dict, in_place: bool = in_place) -> torch.Tensor:
            return args[0] if in_place else kwargs["out"]

        def composite(
            *args: object, public_name: str = public_name, in_place: bool = in_place, **kwargs
        ) -> None:
            out = None if in_place else kwargs.pop("out")
            _write_through_copy(public_name, functional, args[:arity], out, kwargs)

        def autograd(
            keyset,
            *args: object,
            overload: torch._ops.OpOverload = overload,
            composite: Callable[..., None] = composite,
            public_name: str = public_name,
            in_place: bool = in_place,
            **kwargs: object,
        ) -> None:
            tensors = args[:arity]
            if in_place:
                _refuse_inference_tensor(public_name, tensors[0])
                if _forward_ad_active() or (
                    torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
                ):
                    _write_through_copy(
                        public_name, functional, tensors, None, kwargs, keep_input=True
                    )
                    return None
            else:
                _refuse_inference_tensor(public_name, kwargs["out"])
                _refuse_gradients(public_name, (*tensors, kwargs["out"]))
            with torch._C._AutoDispatchBelowAutograd():
                return overload.redispatch(
                    keyset & torch._C._after_autograd_keyset, *args, **kwargs
                )

        def ad_inplace_or_view(
            keyset,
            *args: object,
            overload: torch._ops.OpOverload = overload,
            written: Callable[..., torch.Tensor] = written,
            **kwargs: object,
        ) -> None:
            with torch._C._AutoDispatchBelowADInplaceOrView():
                overload.redispatch(
                    keyset & torch._C._after_ADInplaceOrView_keyset, *args, **kwargs
                )
            torch.autograd.graph.increment_version(written(args, kwargs))

        _fragment.impl(variant, autograd, "Autograd", with_keyset=True)
        _fragment.impl(variant, ad_inplace_or_view, "ADInplaceOrView", with_keyset=True)
        _fragment.impl(variant, composite, "CompositeImplicitAutograd")
        _dtensor.run_as(overload, composite)
    torch.library.register_vmap(f"mykernels::{name}_", _in_place_batching_rule(name), lib=_fragment)


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
    jvp: Callable[..., torch.Tensor],
    decomposition: Callable[..., torch.Tensor],
    sharding_like: torch._ops.OpOverload,
) -> Callable[[_F], _F]:
    """Makes the decorated function the Python function of the op of its name, and returns the
    op's public function (the fast path, then that function: the call path above); registers the
    op's derivatives (its autograd kernel, `_autograd_kernel`), its batching rule for vmap, its
    decomposition for Inductor (_inductor.py) and its sharding strategy for DTensor (that of the
    aten operator `sharding_like`: _dtensor.py), and lists it in OPS.

    setup_context, backward: as for torch.library.register_autograd (the float arguments come as
    keyword_only_inputs); setup_context saves what backward needs (ctx.save_for_backward) and
    what jvp needs (ctx.save_for_forward). jvp(ctx, *tangents): the tangent of the output, from
    the tangents of the tensor arguments (None for one that has none).
    """

    def define(function: _F) -> _F:
        name = function.__name__
        if name not in _library.OPS:
            raise ImportError(
                f"mykernels.ops defines {name}, which the op table (cpp/core/ops.h) of this build "
                "does not have: rebuild mykernels"
            )
        schema = _SCHEMAS[name]
        parameters = inspect.signature(function).parameters.values()
        if [(p.name, p.kind, p.default) for p in parameters] != [
            *(
                (t, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty)
                for t in schema.tensors
            ),
            *(
                (f, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty if d is None else d)
                for f, d in schema.defaults.items()
            ),
            ("out", inspect.Parameter.KEYWORD_ONLY, None),
        ]:
            raise ImportError(
                f"mykernels.ops: the parameters of {name} must be the schema's tensors, then its "
                "float arguments as keywords with the schema's defaults, then out=None"
            )
        kernel, _TRANSFORMABLE[name] = _derivatives(name, setup_context, backward, jvp)
        _fragment.impl(name, kernel, "Autograd", with_keyset=True)
        torch.library.register_vmap(f"mykernels::{name}", _batching_rule(name), lib=_fragment)
        _inductor.register(_SCHEMAS[name].overload, decomposition)
        _dtensor.register(_SCHEMAS[name].overload, sharding_like)
        _register_writes(name)
        public = _binding.public(function, _builtin_doc(function))
        hooks.when_imported("torch._dynamo", functools.partial(_allow_in_graph, public))
        _inductor.mark_cacheable(public)  # a Python function, where there is no binding
        OPS[name] = Op(
            name, public, function, torch_equivalent, len(schema.tensors), tuple(schema.defaults)
        )
        return cast(_F, public)

    return define


def _in_place(function: _F) -> _F:
    """Makes the decorated function, <name>_, the Python function of the in-place form of the op
    <name> (defined above it), and returns its public function, as `_define` does for the op."""
    name = function.__name__.removesuffix("_")
    if name not in OPS or function.__name__ != f"{name}_":
        raise ImportError(
            f"mykernels.ops defines {function.__name__}, which is no op's in-place form: define "
            "the op <name> first, then <name>_"
        )
    schema = _SCHEMAS[name]
    parameters = inspect.signature(function).parameters.values()
    op_parameters = inspect.signature(OPS[name].python_function).parameters.values()
    expected = [(p.name, p.kind, p.default) for p in op_parameters]
    if [(p.name, p.kind, p.default) for p in parameters] != expected[:-1] or len(expected) != len(
        schema.tensors
    ) + len(schema.defaults) + 1:
        raise ImportError(
            f"mykernels.ops: the parameters of {function.__name__} must be those of {name}, "
            "without out"
        )
    public = _binding.public(function, _builtin_doc(function))
    hooks.when_imported("torch._dynamo", functools.partial(_allow_in_graph, public))
    _inductor.mark_cacheable(public)
    OPS[name] = dataclasses.replace(OPS[name], in_place=public, in_place_python_function=function)
    return cast(_F, public)


def _allow_in_graph(public: Callable[..., torch.Tensor]) -> None:
    """Has dynamo put calls of the public function into its graph as they are (the call path
    above); run once dynamo is imported (_hooks.py)."""
    torch._dynamo.allow_in_graph(public)


# Derivatives. torch.library.register_autograd gives an operator reverse mode only: under
# forward-mode AD (torch.autograd.forward_ad, torch.func.jvp, jacfwd) its kernel would run the op
# and drop the tangents. So each op's autograd kernel is made here, as torch's is, around an
# autograd.Function that has both rules: backward, and jvp for the tangents. A dual level being
# open is enough to go through the Function (it passes through inputs that carry no tangent), so
# that no tangent is ever lost; outside one, only inputs that require grad do. Under torch.func,
# the public functions (`_call`) apply the same rules as a plain autograd.Function, which
# torch.func applies at each of its levels in turn (the kernel, reached at one level, cannot do
# that: it refuses what it would get wrong, `_check_one_level`). Of torch's private API this uses
# the dual level's counter, the one-level Function that torch.func itself builds for an
# autograd.Function under its transforms and the switch that lets it run there, and torch.func's
# stack of transforms and its wrapped tensors: all in every torch from 2.10 on, and exercised by
# tests/test_transforms.py on each.

_fragment = torch.library.Library("mykernels", "FRAGMENT")


def _forward_ad_active() -> bool:
    return torch.autograd.forward_ad._current_level >= 0


def _derivatives(
    name: str,
    setup_context: Callable[..., None],
    backward: Callable[..., object],
    jvp: Callable[..., torch.Tensor],
) -> tuple[Callable[..., torch.Tensor], type[torch.autograd.Function]]:
    """The op's autograd kernel, and its derivatives as an autograd.Function for torch.func."""
    schema = _SCHEMAS[name]
    overload = schema.overload
    arity = len(schema.tensors)
    floats = tuple(schema.defaults)

    def scalars_of(inputs: tuple) -> dict[str, float]:
        return dict(zip(floats, inputs[arity:], strict=True))

    def forward(*inputs: object) -> torch.Tensor:
        with torch._C._AutoDispatchBelowAutograd():
            return overload(*inputs[:arity], **scalars_of(inputs))

    def setup(ctx, inputs: tuple, output: torch.Tensor) -> None:
        if floats:
            setup_context(ctx, inputs[:arity], scalars_of(inputs), output)
        else:
            setup_context(ctx, inputs[:arity], output)

    def backward_all(ctx, grad: torch.Tensor) -> tuple:
        grads = backward(ctx, grad)
        return (*(grads if isinstance(grads, tuple) else (grads,)), *(None,) * len(floats))

    def jvp_tensors(ctx, *tangents: torch.Tensor | None) -> torch.Tensor:
        return jvp(ctx, *tangents[:arity])

    rules = {
        "forward": staticmethod(forward),
        "setup_context": staticmethod(setup),
        "backward": staticmethod(backward_all),
        "jvp": staticmethod(jvp_tensors),
    }
    # For torch.func: an autograd.Function, which torch.func applies at each of its levels in turn
    # (under vmap, its forward runs on the batched inputs, where the op's batching rule applies).
    transformable = type(
        f"{name}_derivatives", (torch.autograd.Function,), {**rules, "generate_vmap_rule": True}
    )
    # For the kernel: a Function of one autograd level (torch.autograd.Function less the routing
    # of its apply through torch.func): the kernel runs at the dispatcher's autograd key, on the
    # tensors of the level being differentiated, where torch's own derivative kernels run.
    one_level = type(
        f"{name}_derivatives_one_level", (torch.autograd.function._SingleLevelFunction,), rules
    )

    def kernel(keyset, *tensors: torch.Tensor, **scalars: float) -> torch.Tensor:
        if _forward_ad_active() or (
            torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
        ):
            if torch._C._are_functorch_transforms_active():
                _check_one_level(name, tensors)
            values = [scalars.get(key, default) for key, default in schema.defaults.items()]
            with torch._functorch.utils.enable_single_level_autograd_function():
                return one_level.apply(*tensors, *values)
        with torch._C._AutoDispatchBelowAutograd():
            return overload.redispatch(
                keyset & torch._C._after_autograd_keyset, *tensors, **scalars
            )

    return kernel, transformable


_TRANSFORMABLE: dict[str, type[torch.autograd.Function]] = {}


def _levels(transform: torch._C._functorch.TransformType) -> int:
    """How many of torch.func's active transforms are of this kind."""
    return sum(i.key() == transform for i in torch._C._functorch.get_interpreter_stack() or ())


def _check_one_level(name: str, tensors: tuple[torch.Tensor, ...]) -> None:
    """Raises where the operator is differentiated at more than one level at once through
    torch.func (hessian, grad of grad, jacfwd of jacrev, or a torch.func derivative of tensors
    that torch.autograd differentiates too). The kernel's one-level Function runs the op below
    autograd for the levels under its own, whose derivatives would then be lost: silently wrong
    higher derivatives. The public function, mykernels.<name>, has torch.func apply its
    derivatives level by level instead, and supports them."""
    transform = torch._C._functorch.TransformType
    levels = _levels(transform.Grad) + _levels(transform.Jvp)
    base = []
    for t in tensors:
        while torch._C._functorch.is_functorch_wrapped_tensor(t):
            t = torch._C._functorch.get_unwrapped(t)
        base.append(t)
    if levels > 1 or any(t.requires_grad for t in base):
        raise NotImplementedError(
            f"torch.ops.mykernels.{name} cannot be differentiated at several levels at once "
            f"through torch.func (hessian, grad of grad, or torch.func under torch.autograd): "
            f"call mykernels.{name}, which can"
        )


# vmap. Every op of the table is elementwise with broadcasting, so one rule batches them all: the
# batch dimension goes first in every batched input, with size-1 dimensions after it up to the
# inputs' largest logical rank, so that it broadcasts against the unbatched inputs and lines up
# across the batched ones. The result dtype is the one of the logical (unbatched) inputs: batching
# a 0-dim tensor gives it a dimension, which would change its weight in type promotion.


def _batching_rule(name: str) -> Callable[..., tuple[torch.Tensor, int | None]]:
    overload = _SCHEMAS[name].overload

    def rule(info, in_dims: tuple, *tensors: torch.Tensor, **scalars: float):
        if all(d is None for d in in_dims):
            return overload(*tensors, **scalars), None
        rank = max(t.dim() - (d is not None) for t, d in zip(tensors, in_dims, strict=True))
        physical = []
        for t, d in zip(tensors, in_dims, strict=True):
            if d is not None:
                t = t.movedim(d, 0)
                t = t.reshape(t.shape[:1] + (1,) * (rank + 1 - t.dim()) + t.shape[1:])
            physical.append(t)
        if len(tensors) > 1:
            logical = torch.result_type(*_logical_stand_ins(tensors, in_dims))
            if torch.result_type(*physical) != logical:
                physical = [t.to(logical) for t in physical]
        return overload(*physical, **scalars), 0

    return rule


def _in_place_batching_rule(name: str) -> Callable[..., tuple[None, None]]:
    """vmap of <name>_: the batched input written in place, through views of its memory. Where
    another input is batched and the input written is not, the operator refuses, as torch does:
    the result would have the batch's shape."""
    overload = _VARIANTS[f"{name}_"]

    def rule(info, in_dims: tuple, *tensors: torch.Tensor, **scalars: float) -> tuple[None, None]:
        if all(d is None for d in in_dims):
            overload(*tensors, **scalars)
            return None, None
        rank = max(t.dim() - (d is not None) for t, d in zip(tensors, in_dims, strict=True))
        physical = []
        for t, d in zip(tensors, in_dims, strict=True):
            if d is not None:
                t = t.movedim(d, 0)
                for _ in range(rank + 1 - t.dim()):
                    t = t.unsqueeze(1)  # a view: the input written keeps its memory
            physical.append(t)
        if len(tensors) > 1:
            logical = torch.result_type(*_logical_stand_ins(tensors, in_dims))
            if torch.result_type(*physical) != logical:
                physical = [physical[0], *(t.to(logical) for t in physical[1:])]
        overload(*physical, **scalars)
        return None, None

    return rule


def _logical_stand_ins(tensors: tuple, in_dims: tuple) -> list[torch.Tensor]:
    """Empty meta tensors with the dtypes and 0-dim-ness of the unbatched inputs: what type
    promotion reads of them."""
    return [
        torch.empty((0,) * min(t.dim() - (d is not None), 1), dtype=t.dtype, device="meta")
        for t, d in zip(tensors, in_dims, strict=True)
    ]


# square ------------------------------------------------------------------------------------------


def _square_setup(ctx, inputs, output) -> None:
    (x,) = inputs
    ctx.save_for_backward(x)
    ctx.save_for_forward(x)


def _square_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    (x,) = ctx.saved_tensors
    return grad * 2 * x


def _square_jvp(ctx, tangent: torch.Tensor) -> torch.Tensor:
    (x,) = ctx.saved_tensors
    return tangent * 2 * x


def _square_decomposition(x: torch.Tensor) -> torch.Tensor:
    # float16 and bfloat16: computed in float32 and rounded once, as the kernels do (the product
    # of two 16-bit values is exact in float32).
    _result_dtype("square", x)
    return x * x


@_define(
    torch_equivalent=torch.square,
    setup_context=_square_setup,
    backward=_square_backward,
    jvp=_square_jvp,
    decomposition=_square_decomposition,
    sharding_like=torch.ops.aten.square.default,
)
def square(input: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``input * input`` elementwise, like :func:`torch.square`.

    Args:
        input: a float32, float64, float16 or bfloat16 tensor on the CPU or a CUDA device, of any
            shape and strides.
        out: where to write the result, as torch's ``out=`` (below).

    Returns:
        A new tensor of input's shape, dtype and device (float16 and bfloat16 are computed in
        float32 and rounded once); or out, written.

    Raises:
        RuntimeError: input has another dtype, or is on a device mykernels has no kernel for; or
            out breaks torch's rules for ``out=``.

    ``out`` follows torch's rules: it is written in place, whatever its strides; one of another
    shape is resized (with torch's warning if it had elements); its dtype may be any dtype the
    result converts to (a floating-point or complex one); it may be one of the inputs, but may
    not share only part of its memory with one; it must be on the inputs' device; and it does not
    take part in autograd (an argument that requires grad is refused).
    """
    return _call("square", input, out=out)


@_in_place
def square_(input: torch.Tensor) -> torch.Tensor:
    """Square input in place and return it, like :meth:`torch.Tensor.square_`: input must have a
    dtype the result converts to, and keeps its memory, shape and strides."""
    return _call("square_", input)


# add ---------------------------------------------------------------------------------------------


def _add_setup(ctx, inputs, keyword_only_inputs, output) -> None:
    a, b = inputs
    ctx.alpha = keyword_only_inputs.get("alpha", 1)
    ctx.a_meta = (a.shape, a.dtype)
    ctx.b_meta = (b.shape, b.dtype)
    ctx.out_meta = (output.shape, output.dtype)


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


def _add_jvp(ctx, tangent_a: torch.Tensor | None, tangent_b: torch.Tensor | None) -> torch.Tensor:
    # The tangents in the result dtype, as the inputs are, and broadcast to the result's shape.
    shape, dtype = ctx.out_meta
    tangent = None if tangent_a is None else tangent_a.to(dtype)
    if tangent_b is not None:
        scaled = tangent_b.to(dtype) if ctx.alpha == 1 else tangent_b.to(dtype) * ctx.alpha
        tangent = scaled if tangent is None else tangent + scaled
    return tangent.expand(shape)


def _add_decomposition(a: torch.Tensor, b: torch.Tensor, *, alpha: float = 1) -> torch.Tensor:
    # Both inputs are converted to the result dtype before the sum, as the kernels do (for a 0-dim
    # CPU operand wider than the result, torch.add would keep more of its precision).
    dtype = _result_dtype("add", a, b)
    return torch.add(a.to(dtype), b.to(dtype), alpha=alpha)


@_define(
    torch_equivalent=torch.add,
    setup_context=_add_setup,
    backward=_add_backward,
    jvp=_add_jvp,
    decomposition=_add_decomposition,
    sharding_like=torch.ops.aten.add.Tensor,
)
def add(
    input: torch.Tensor,
    other: torch.Tensor,
    *,
    alpha: float = 1,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return ``input + alpha * other`` elementwise, like :func:`torch.add`.

    input and other broadcast against each other, and the result has their promoted dtype
    (:func:`torch.result_type`), which must be float32, float64, float16 or bfloat16. Both inputs
    are converted to that dtype before the sum, as torch does for GPU tensors (for a 0-dim CPU
    operand wider than the result, torch keeps its full precision instead).

    Args:
        input, other: tensors on the same device (the CPU or one CUDA device).
        alpha: a real multiplier of other.
        out: where to write the result, by torch's rules for ``out=`` (:func:`square` has them).

    Returns:
        A new tensor of the broadcast shape. It has input's strides when input already has that
        shape and is dense, and is contiguous otherwise. Or out, written.

    Raises:
        RuntimeError: the shapes do not broadcast, the tensors are on different devices, the
            promoted dtype is not supported, alpha is a bool or complex, or out breaks torch's
            rules.
    """
    return _call("add", input, other, alpha=alpha, out=out)


@_in_place
def add_(input: torch.Tensor, other: torch.Tensor, *, alpha: float = 1) -> torch.Tensor:
    """Add ``alpha * other`` to input in place and return it, like :meth:`torch.Tensor.add_`:
    other must broadcast to input's shape, and the promoted result must convert to input's
    dtype."""
    return _call("add_", input, other, alpha=alpha)


# d_sigmoid ---------------------------------------------------------------------------------------


def _d_sigmoid_setup(ctx, inputs, output) -> None:
    (z,) = inputs
    ctx.save_for_backward(z, output)
    ctx.save_for_forward(z, output)


def _d_sigmoid_derivative(ctx) -> torch.Tensor:
    # d/dz [s(1 - s)] = s(1 - s)(1 - 2s), and 1 - 2s = -tanh(z / 2) without the cancellation.
    z, out = ctx.saved_tensors
    return -out * torch.tanh(z / 2)


def _d_sigmoid_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    return grad * _d_sigmoid_derivative(ctx)


def _d_sigmoid_jvp(ctx, tangent: torch.Tensor) -> torch.Tensor:
    return tangent * _d_sigmoid_derivative(ctx)


def _eager_d_sigmoid(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return (1 - s) * s


def _d_sigmoid_decomposition(z: torch.Tensor) -> torch.Tensor:
    # s(1 - s) with s = sigmoid(-|z|), in [0, 1/2]: 1 - s does not cancel, and s is as accurate
    # for large |z| as the kernels' t / (1 + t)^2 with t = exp(-|z|), the same function; Inductor
    # computes sigmoid with the GPU's fast exponential, where torch.exp gets the exact one, which
    # costs a 16-bit kernel 10% of its bandwidth. In float32 for the 16-bit dtypes. Integer and
    # bool z are promoted to the default dtype, as torch.sigmoid does.
    # No cap at 0.25 is needed: with s = 1/2 - d, the rounding of 1 - s adds e to it, |e| at most
    # half an ulp of [1/2, 1), and s(1 - s + e) = 1/4 - d^2 + e(1/2 - d) stays below 1/4 plus
    # half an ulp of [1/4, 1/2), so that it rounds to 1/4 at most (where s exceeds 1/2, 1 - s is
    # exact). So the kernel does no compare and select for a cap.
    dtype = _result_dtype("d_sigmoid", z)
    compute = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    s = torch.sigmoid(-torch.abs(z.to(compute)))
    return (s * (1 - s)).to(dtype)


@_define(
    torch_equivalent=_eager_d_sigmoid,
    setup_context=_d_sigmoid_setup,
    backward=_d_sigmoid_backward,
    jvp=_d_sigmoid_jvp,
    decomposition=_d_sigmoid_decomposition,
    # Not sigmoid's: torch lets a Partial max through sigmoid, which is increasing; d_sigmoid is
    # not, and takes the strategy of a function that no Partial placement passes through.
    sharding_like=torch.ops.aten.cos.default,
)
def d_sigmoid(input: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """Return the derivative of the sigmoid, ``s * (1 - s)`` with ``s = sigmoid(input)``,
    elementwise.

    Computed as ``t / (1 + t)**2`` with ``t = exp(-|input|)``: in [0, 0.25] for every input (0
    at +-inf), exactly 0.25 at 0, NaN for NaN.

    Args:
        input: a float32, float64, float16 or bfloat16 tensor, or an integer or bool tensor,
            which is promoted to the default float dtype like :func:`torch.sigmoid` does.
        out: where to write the result, by torch's rules for ``out=`` (:func:`square` has them).

    Returns:
        A new tensor of input's shape and device, or out, written.

    Raises:
        RuntimeError: input is complex, or on a device mykernels has no kernel for, or out breaks
            torch's rules.
    """
    return _call("d_sigmoid", input, out=out)


@_in_place
def d_sigmoid_(input: torch.Tensor) -> torch.Tensor:
    """Replace input by the derivative of the sigmoid at input, in place, and return it, like
    torch's in-place ops: input must be floating-point (an integer tensor cannot hold the
    result)."""
    return _call("d_sigmoid_", input)


# Fake kernels, one per op of the table: the same checks and output metadata as the C++ operators
# (cpp/operators/operators.cpp), for torch.compile and meta tensors. The decompositions share their
# checks and promotion (_result_dtype).


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


def _result_dtype(name: str, *tensors: torch.Tensor) -> torch.dtype:
    """The dtype of op `name`'s result, by the table's promotion rule, after the C++ operator's
    checks of the inputs' devices and of that dtype: for the fake kernels and the
    decompositions."""
    first = tensors[0]
    devices = [str(t.device) for t in tensors]
    torch._check(
        all(t.device == first.device for t in tensors),
        lambda: (
            f"mykernels.{name}: expected {_listed(list(_SCHEMAS[name].tensors))} on the same "
            f"device, got {_listed(devices)}"
        ),
    )
    dtype = first.dtype if len(tensors) == 1 else torch.result_type(*tensors)
    if _library.OPS[name] == "integer_to_float" and not (
        dtype.is_floating_point or dtype.is_complex
    ):
        dtype = torch.get_default_dtype()
    _check_dtype(name, dtype)
    return dtype


def _fake_kernel(name: str, promotion: str) -> Callable[..., torch.Tensor]:
    if promotion not in ("common", "integer_to_float"):
        raise ImportError(f"mykernels.ops: the promotion rule {promotion!r} of {name} is unknown")

    def fake(*tensors: torch.Tensor, **scalars: float) -> torch.Tensor:
        first = tensors[0]
        dtype = _result_dtype(name, *tensors)
        shape = torch.broadcast_shapes(*(t.shape for t in tensors))
        if first.shape == shape:
            return torch.empty_like(first, dtype=dtype)
        return first.new_empty(shape, dtype=dtype)

    fake.__name__ = f"_{name}_fake"
    return fake


for _name, _promotion in _library.OPS.items():
    if _name not in OPS:
        raise ImportError(
            f"the op table (cpp/core/ops.h) has {_name}, but mykernels.ops defines no public "
            "function for it (docs/adding-an-op.md)"
        )
    torch.library.register_fake(f"mykernels::{_name}")(_fake_kernel(_name, _promotion))
if any(op.in_place is None for op in OPS.values()):
    raise ImportError(
        "mykernels.ops must define the in-place form <name>_ of each op (docs/adding-an-op.md): "
        f"{sorted(name for name, op in OPS.items() if op.in_place is None)} have none"
    )
if sorted(__all__) != sorted([*OPS, *(f"{name}_" for name in OPS)]):
    raise ImportError(
        "mykernels.ops.__all__ must list the public functions "
        f"{sorted([*OPS, *(f'{name}_' for name in OPS)])}"
    )
