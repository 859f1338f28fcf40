"""DTensor sharding strategies of the operators: what lets mykernels ops run on DTensors.

DTensor (``torch.distributed.tensor``) runs an operator on sharded tensors only where it has a
sharding strategy for it: the placements (Shard, Replicate, Partial) the operator can take its
inputs in, and those its result then has. It has one for each aten operator, and none for
``torch.ops.mykernels.*``. Each mykernels op places its elements as some aten pointwise op does
(add broadcasts like ``aten.add.Tensor`` and keeps a Partial sum as it does), so `register` gives
a mykernels operator the strategy DTensor has for that aten op: DTensor then redistributes the
inputs and places the result exactly as for the aten op, and calls the mykernels operator on the
local shards. The strategy functions see the aten op, not the mykernels one, where they ask which
op they serve (which Partial placements pass through it, whether it works in place).

torch has no public API for this: ``torch.distributed.tensor.experimental.register_sharding``
takes a hand-written list of placements, which could not follow torch's own rules as they change
from release to release. So `register` copies the aten op's entries in DTensor's sharding
propagator, ``DTensor._op_dispatcher.sharding_propagator``: its strategy functions and the
arguments their results are cached on. torch 2.10 and 2.11 keep aten's pointwise ops in
``op_strategy_funcs`` (functions of an ``OpSchema``) with ``op_to_schema_info``; torch 2.13 and
2.14 in ``op_single_dim_strategy_funcs`` (functions of the op, its arguments and keyword
arguments, held by a dataclass with the strategy's options, as ``func``) with
``op_to_schema_info_for_single_dim_strategy``; development versions between the two had them in
both, and took the single-dim one.
All of torch's private API that mykernels uses for DTensor is in this module. Where it is missing
or has changed (another torch), or torch has no ``torch.distributed``, `register` does nothing,
logs why once, at INFO level, on the "mykernels" logger, and DTensor refuses the ops as it
would without mykernels' help. Where it has no strategy for an op's aten twin, that op alone is
left out, with a message of its own.

`register` puts the strategies in when the program imports ``torch.distributed.tensor`` (as
``from torch.distributed.tensor import DTensor`` does, and dynamo), not at ``import mykernels``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import torch

from mykernels import _hooks as hooks  # absolute: the tests load copies of this module

_log = logging.getLogger("mykernels")

# Why DTensor support is off (None while it is on).
unavailable: str | None = None


def register(overload: torch._ops.OpOverload, like: torch._ops.OpOverload) -> None:
    """Gives `overload` (a mykernels operator) the sharding strategy DTensor uses for the aten
    operator `like`.

    `like` must take its tensors where `overload` does (the same positional and keyword-only
    tensor arguments) and return as many tensors. Its strategy must suit `overload`'s math: the
    Partial placements it lets through must pass through `overload` too. A Partial sum passes
    through ``aten.add.Tensor`` and through mykernels' add alike; a Partial max passes through
    ``aten.sigmoid.default`` (an increasing function, in torch 2.13 and 2.14), and must not through
    d_sigmoid, which is not: d_sigmoid takes the strategy of a function that no Partial placement
    passes through, such as ``aten.cos.default``.

    Raises:
        ValueError: the two operators' schemas do not match.
    """
    _check_schemas(overload, like)
    if unavailable is not None:
        return
    if not torch.distributed.is_available():
        _turn_off("this build of torch has no torch.distributed")
        return
    # Once the program imports DTensor (_hooks.py), which import mykernels does not.
    hooks.when_imported("torch.distributed.tensor", lambda: _install(overload, like))


def run_as(overload: torch._ops.OpOverload, function: Callable[..., object]) -> None:
    """Has DTensor run `overload` (an out= or in-place mykernels operator) as `function` of its
    arguments, which composes operators that have strategies (the op, then ``copy_``), through
    DTensor's table of op handlers: the same on every torch, where DTensor's own treatment of an
    operator without a strategy varies."""
    if unavailable is not None or not torch.distributed.is_available():
        return
    hooks.when_imported("torch.distributed.tensor", lambda: _install_handler(overload, function))


def _install_handler(overload: torch._ops.OpOverload, function: Callable[..., object]) -> None:
    if unavailable is not None:
        return
    try:
        from torch.distributed.tensor import DTensor

        handlers = DTensor._op_dispatcher._custom_op_handlers
        if not isinstance(handlers, dict):
            raise TypeError("DTensor's op handlers are no dict")
        handlers[overload] = lambda op_call, args, kwargs: function(*args, **kwargs)
    except Exception as error:  # the private API differs in this torch
        _turn_off(f"{type(error).__name__}: {error}")


def _check_schemas(overload: torch._ops.OpOverload, like: torch._ops.OpOverload) -> None:
    def tensors(op: torch._ops.OpOverload) -> tuple[object, ...]:
        # Where the tensor arguments are (positional or keyword-only), and the number of returns.
        arguments = op._schema.arguments
        return (
            tuple(isinstance(a.type, torch.TensorType) for a in arguments if not a.kwarg_only),
            tuple(
                a.name for a in arguments if a.kwarg_only and isinstance(a.type, torch.TensorType)
            ),
            len(op._schema.returns),
        )

    if tensors(overload) != tensors(like):
        raise ValueError(
            f"mykernels: {overload.name()} cannot have the sharding strategy of {like}: their "
            f"schemas take tensors in different places ({overload._schema} and {like._schema})"
        )


def _install(overload: torch._ops.OpOverload, like: torch._ops.OpOverload) -> None:
    """Copies `like`'s entries in DTensor's sharding propagator to `overload`."""
    if unavailable is not None:
        return
    try:
        from torch.distributed.tensor import DTensor
        from torch.distributed.tensor._op_schema import OpSchema

        propagator = DTensor._op_dispatcher.sharding_propagator
        strategies = propagator.op_strategy_funcs
        single_dim = getattr(propagator, "op_single_dim_strategy_funcs", {})
        if like not in strategies and like not in single_dim:
            _log.info(
                "%s does not run on DTensors: this torch %s has no sharding strategy for %s",
                overload.name(),
                torch.__version__,
                like,
            )
            return
        for table in ("op_to_schema_info", "op_to_schema_info_for_single_dim_strategy"):
            schema_infos = getattr(propagator, table, {})
            if like in schema_infos:
                schema_infos[overload] = schema_infos[like]
        # Where torch has both kinds for an op, its propagator takes the single-dim one, for
        # `overload` as for `like`.
        if like in strategies:
            strategies[overload] = _strategy_as(overload, like, strategies[like], OpSchema)
        if like in single_dim:
            single_dim[overload] = _single_dim_strategy_as(like, single_dim[like])
    except Exception as error:  # the private API differs in this torch
        _turn_off(f"{type(error).__name__}: {error}")


def _strategy_as(
    overload: torch._ops.OpOverload,
    like: torch._ops.OpOverload,
    strategy: Callable[..., object],
    op_schema_type: type,
) -> Callable[..., object]:
    """`like`'s strategy function, for an OpSchema of `overload`, without the plans that turn a
    Partial input into a Partial of another reduction (a Partial max into a Partial sum): torch
    2.10's redistribution does that without reducing, so that its own ``torch.add`` of a Partial
    sum and a Partial max returns a wrong sum, and 2.11 refuses it. Where no other plan is left,
    the op raises an error that says what to do instead of returning that wrong result."""

    def strategy_as_like(op_schema):
        result = strategy(
            op_schema_type(
                like,
                op_schema.args_schema,
                op_schema.kwargs_schema,
                schema_info=op_schema.schema_info,
            )
        )
        return _without_partial_to_partial(overload, op_schema, result)

    return strategy_as_like


def _without_partial_to_partial(
    overload: torch._ops.OpOverload, op_schema: object, result: object
) -> object:
    """`result`, an OpStrategy for `op_schema`, less its plans that turn a Partial input into a
    Partial of another reduction; a RuntimeError where that leaves none. A result of another
    shape, or whose plans do not line up with the tensor arguments, is returned as it is."""
    plans = getattr(result, "strategies", None)
    if not plans:
        return result
    # The placements each tensor argument has now, in the order of a plan's input_specs.
    current = [
        arg.strategies[0].output_spec.placements
        for arg in op_schema.args_schema
        if getattr(arg, "strategies", None)
    ]

    def changes(plan) -> list[tuple[object, object]]:
        specs = getattr(plan, "input_specs", None)
        if specs is None or len(specs) != len(current):
            return []
        return [
            (now, wanted)
            for placements, spec in zip(current, specs, strict=True)
            for now, wanted in zip(placements, spec.placements, strict=True)
            if now.is_partial() and wanted.is_partial() and now.reduce_op != wanted.reduce_op
        ]

    valid = [plan for plan in plans if not changes(plan)]
    if len(valid) == len(plans):
        return result
    if not valid:
        now, wanted = changes(plans[0])[0]
        raise RuntimeError(
            f"mykernels.{overload._schema.name.split('::')[-1]}: an input placed as {now} would "
            f"have to become {wanted}, which DTensor in torch {torch.__version__} cannot do "
            f"correctly; redistribute it first (for example to Replicate())"
        )
    return type(result)(valid)


def _single_dim_strategy_as(like: torch._ops.OpOverload, entry: object) -> object:
    """`like`'s single-dim strategy (a function of the op, its arguments and keyword arguments, or
    a dataclass holding one as ``func`` with its options), for another operator."""
    function = entry.func if dataclasses.is_dataclass(entry) else entry
    if not callable(function):
        raise TypeError(f"the single-dim strategy of {like} is a {type(entry).__name__}")

    def strategy_as_like(op, *args, **kwargs):
        return function(like, *args, **kwargs)

    if dataclasses.is_dataclass(entry):
        return dataclasses.replace(entry, func=strategy_as_like)
    return strategy_as_like


def _turn_off(reason: str) -> None:
    global unavailable
    unavailable = reason
    _log.info(
        "mykernels ops do not run on DTensors (DTensor has no sharding strategy for them): "
        "this torch %s lacks what mykernels needs to give them one (%s)",
        torch.__version__,
        reason,
    )
