"""Inductor decompositions of the operators: what lets torch.compile fuse mykernels ops.

Inductor, torch.compile's default backend, cannot see into a custom operator: it calls each one as
an opaque kernel, so a chain of mykernels ops runs as one kernel per op where the same math in
torch operations is fused into one. `register` gives Inductor an op's math in torch operations,
its decomposition. Inductor puts it in place of an operator that has something to fuse with, in
the graph that AOTAutograd traced (the joint forward and backward graph, before it is split, or
the inference graph), and then fuses it with the graph's other pointwise operations; the
partitioner sees torch operations, which it may recompute in the backward instead of saving them.

An operator with nothing to fuse with keeps its own kernel: one whose tensor inputs are all inputs
of the graph and whose result goes only to the graph's output. Decomposed, it would be one
generated kernel doing the same work, at the same speed (BENCHMARKS.md has the comparison, and
how Inductor's autotuning varies it from compile to compile); its own kernel also keeps
mykernels' exact results for the op.

The substitution is a pattern of Inductor's joint-graph pattern matcher, whose check decides per
call (so it runs only where ``torch._inductor.config.pattern_matcher`` and
``use_joint_graph_passes`` are on, as they are by default; with either off the ops stay opaque).
Only Inductor decomposes: eager calls, ``torch.export`` (``run_decompositions()`` included) and the
other backends keep the operators.

The compile caches. Inductor's FX graph cache keys on the graphs after the joint-graph passes, so
it never mixes graphs with and without the substitution. AOTAutograd's cache keys on the graph that
dynamo captured and on Inductor's configuration, not on the patterns: an entry written by a process
without them (an older mykernels, or one with other decompositions) would be taken by one with
them, and the other way round. (This holds for graphs that call the public functions,
mykernels.<name>, too: dynamo puts those into the graph as they are, and AOTAutograd caches a
graph that calls C functions, which they are with the binding, and Python functions that
Inductor's configuration marks cacheable, which `mark_cacheable` does for them without it.) So
`register` also writes a fingerprint of the decompositions (the source of the modules that define
them and of this one) into Inductor's configuration, which the caches' keys contain: the entry
``unsafe_marked_cacheable_functions["mykernels: Inductor decompositions"]``, whose name is no
function's, so that it marks nothing cacheable. All of this goes in when Inductor's
configuration is imported (_hooks.py), not at ``import mykernels``.

All of torch's private API that mykernels uses for this is in this module. Where it is missing or
has changed (another torch), `register` leaves Inductor as it is, logs why once, at INFO level,
on the "mykernels" logger, and the ops stay opaque to Inductor, and correct.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

import torch

from . import _hooks as hooks

_log = logging.getLogger("mykernels")

# The fingerprint's name in Inductor's configuration (not the name of a function, which is
# "module.name").
FINGERPRINT_KEY = "mykernels: Inductor decompositions"

# Why the decompositions are off (None while they are on): set where torch lacks the API below.
unavailable: str | None = None

_registered: dict[torch._ops.OpOverload, Callable[..., object]] = {}
# The operators whose pattern is in Inductor's pattern matcher. A pattern is registered once and
# looks its decomposition up in _registered at each match, so that `register` can replace a
# decomposition and `unregister` remove it.
_patterns: set[torch._ops.OpOverload] = set()
# The public functions that `mark_cacheable` marked: their names, and the digest of their source.
_cacheable: dict[str, str] = {}
# Held while decompositions and patterns are added: `register` and the import of Inductor may run
# in two threads.
_lock = threading.RLock()


def register(overload: torch._ops.OpOverload, decomposition: Callable[..., object]) -> None:
    """Makes Inductor replace `overload` by `decomposition`, its math in torch operations, wherever
    the operator has something to fuse with (`has_neighbours`).

    `decomposition` takes the operator's arguments, with fake or symbolic tensors, and returns
    what the operator would: the same dtype, shape and device, with values equal within the
    rounding of the op's dtype. Registering an op again replaces its decomposition.
    """
    if unavailable is not None:
        return
    if not isinstance(overload, torch._ops.OpOverload):
        raise TypeError(f"register takes an OpOverload, got {type(overload).__name__}")
    with _lock:
        _registered[overload] = decomposition
    # Into Inductor once it is imported: the fingerprint with its configuration, the patterns with
    # its joint-graph passes.
    hooks.when_imported(_CONFIG, _install)


def _install() -> None:
    """Puts the fingerprint of the registered decompositions into Inductor's configuration (now
    imported), then the patterns into its joint-graph pattern matcher, once that is imported."""
    try:
        import torch._inductor.config as config

        if not isinstance(config.unsafe_marked_cacheable_functions, dict):
            raise TypeError("torch._inductor.config.unsafe_marked_cacheable_functions is no dict")
        with _lock:
            _set_marked(config, _cacheable)
            # The fingerprint first: a decomposition is never in use while the caches' keys lack
            # it.
            if _registered:
                _set_marked(config, {FINGERPRINT_KEY: _fingerprint(_registered)})
        if unavailable is None:
            hooks.when_imported(_JOINT_GRAPH, _add_patterns)
    except Exception as error:  # the private API differs in this torch
        _turn_off(f"{type(error).__name__}: {error}")


def mark_cacheable(function: Callable[..., object]) -> None:
    """Lets AOTAutograd's cache take graphs that call `function`, a public function, by its name in
    ``unsafe_marked_cacheable_functions``, with a digest of its module's source as the value that
    the caches' keys contain (a C function needs no mark)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return
    digest = hashlib.sha256(code.co_code + repr(code.co_consts).encode())
    try:
        with open(code.co_filename, "rb") as file:
            digest.update(file.read())
    except OSError:  # no source file (a zip import, say): the bytecode alone
        pass
    with _lock:
        _cacheable[f"{function.__module__}.{function.__name__}"] = digest.hexdigest()[:32]
    hooks.when_imported(_CONFIG, _install)


def unregister() -> None:
    """Removes every decomposition that `register` added, and the fingerprint: the ops are opaque
    to Inductor again, as with a mykernels that has no decompositions. (The patterns stay, and
    match nothing.)"""
    if not _registered:
        return
    _registered.clear()
    import torch._inductor.config as config

    _set_marked(config, {FINGERPRINT_KEY: None})


def registered() -> dict[torch._ops.OpOverload, Callable[..., object]]:
    """The decompositions that Inductor uses, by operator (empty where they are off)."""
    return dict(_registered)


def fingerprint() -> str | None:
    """The fingerprint of the registered decompositions that the compile caches' keys contain,
    or None where there are none."""
    if unavailable is not None or not _registered:
        return None
    import torch._inductor.config as config

    return config.unsafe_marked_cacheable_functions.get(FINGERPRINT_KEY)


def has_neighbours(node: torch.fx.Node) -> bool:
    """Whether a call in an FX graph has something that Inductor could fuse it with: a tensor
    input computed in the graph, or a user other than the graph's output (a tensor that only
    passes through, a graph input or constant, or the output, is no neighbour; nor is a user that
    reads only the result's size)."""

    def computed(value: torch.fx.Node) -> bool:
        return value.op not in ("placeholder", "get_attr") and _is_tensor(value)

    def fusable(user: torch.fx.Node) -> bool:
        return user.op != "output" and _is_tensor(user)

    return any(map(computed, node.all_input_nodes)) or any(map(fusable, node.users))


def _is_tensor(node: torch.fx.Node) -> bool:
    # Whether the node's value holds a tensor (no "val": assume it does).
    value = node.meta.get("val", node.meta.get("example_value"))
    if value is None:
        return True
    return any(isinstance(leaf, torch.Tensor) for leaf in torch.utils._pytree.tree_leaves(value))


def _decomposes(match) -> bool:
    node = match.output_node()
    return node.target in _registered and has_neighbours(node)


def _decompose(match, /, *args: object, **kwargs: object) -> None:
    # The pattern's handler: the decomposition, traced on the call's arguments (fake tensors,
    # symbolic sizes included), in place of the call.
    decomposition = _registered[match.output_node().target]
    names = list(kwargs)

    def replacement(*values: object) -> object:
        positional = len(values) - len(names)
        return decomposition(
            *values[:positional], **dict(zip(names, values[positional:], strict=True))
        )

    match.replace_by_example(replacement, [*args, *kwargs.values()])


# Inductor's configuration, which the fingerprint goes into, and the module of its joint-graph
# passes, with the pattern matcher's pass that the patterns go into. Importing them takes seconds
# (the configuration imports dynamo; the passes, Inductor's lowerings), so they go in when
# torch.compile or another entry into Inductor imports them (torch.compile does as it is called),
# not at `import mykernels` (_hooks.py).
_CONFIG = "torch._inductor.config"
_JOINT_GRAPH = "torch._inductor.fx_passes.joint_graph"


def _add_patterns() -> None:
    """Puts a pattern for each registered operator into Inductor's joint-graph pattern matcher
    (once for each operator)."""
    try:
        from torch._inductor.fx_passes import joint_graph
        from torch._inductor.pattern_matcher import CallFunctionVarArgs, register_graph_pattern

        pass_dict = joint_graph.patterns
        with _lock:
            for overload in list(_registered):
                if overload not in _patterns:
                    register_graph_pattern(
                        CallFunctionVarArgs(overload), extra_check=_decomposes, pass_dict=pass_dict
                    )(_decompose)
                    _patterns.add(overload)
                # The check that this torch finds the pattern where it looks.
                if not any(
                    getattr(entry, "handler", None) is _decompose
                    for entry in pass_dict[("call_function", overload)]
                ):
                    raise RuntimeError("the joint-graph pattern matcher does not list the pattern")
    except Exception as error:  # the private API differs in this torch
        _turn_off(f"{type(error).__name__}: {error}")


def _set_marked(config, entries: dict[str, str | None]) -> None:
    """Puts the entries into ``unsafe_marked_cacheable_functions`` of Inductor's configuration (and
    removes those whose value is None)."""

    def updated(marked: dict[str, str]) -> dict[str, str]:
        marked = dict(marked)
        for key, value in entries.items():
            if value is None:
                marked.pop(key, None)
            else:
                marked[key] = value
        return marked

    # The value that this thread (this context) reads: an assignment, as a user sets it.
    config.unsafe_marked_cacheable_functions = updated(config.unsafe_marked_cacheable_functions)
    # torch 2.13 and 2.14 keep an assigned value per context (a ContextVar; 2.11 keeps one for
    # the process): a thread started later reads the default unless it assigns its own value, so
    # the default is updated as well. Where the configuration is stored otherwise, the assignment
    # above is all there is.
    entry = getattr(config, "_config", {}).get("unsafe_marked_cacheable_functions")
    default = getattr(entry, "default", None)
    if isinstance(default, dict):
        entry.default = updated(default)


def _fingerprint(registered: dict[torch._ops.OpOverload, Callable[..., object]]) -> str:
    """A digest of what decides the decomposed graphs: the ops' names and the source files that
    define their decompositions (their helpers included) and this module."""
    digest = hashlib.sha256()
    sources = {__file__}
    codes = []
    for overload, decomposition in sorted(registered.items(), key=lambda item: item[0].name()):
        digest.update(overload.name().encode())
        code = getattr(decomposition, "__code__", None)
        if code is None:  # a callable object: its class's __call__
            code = getattr(vars(type(decomposition)).get("__call__"), "__code__", None)
        if code is None:
            digest.update(type(decomposition).__qualname__.encode())
        else:
            codes.append(code)
            sources.add(code.co_filename)
    for path in sorted(sources):
        try:
            with open(path, "rb") as file:
                digest.update(file.read())
        except OSError:  # no source file (a zip import, say): the functions' bytecode instead
            for code in codes:
                if code.co_filename == path:
                    digest.update(code.co_code + repr(code.co_consts).encode())
    return digest.hexdigest()[:32]


def _turn_off(reason: str) -> None:
    global unavailable
    if unavailable is not None:  # turned off, and said so, already
        return
    unavailable = reason
    try:  # what was registered before the failure, if anything
        unregister()
    except Exception:  # torch's tables are out of reach: nothing is in them
        _registered.clear()
    _log.info(
        "mykernels ops stay opaque to torch.compile (Inductor calls each as its own kernel, "
        "unfused): this torch %s lacks the private API for Inductor decompositions (%s)",
        torch.__version__,
        reason,
    )
