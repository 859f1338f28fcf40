"""Inductor decompositions of the operators: what lets torch.compile fuse mykernels ops.

Inductor, torch.compile's default backend, cannot see into a custom operator: it calls each one as
an opaque kernel, so a chain of mykernels ops runs as one kernel per op where the same math in
torch operations is fused into one. `register` gives Inductor an op's math in torch operations,
its decomposition, which Inductor substitutes for the operator while it traces the graph (forward
and backward) and then fuses with the graph's other pointwise operations. The table it goes into
is Inductor's own (``torch._inductor.decomposition.decompositions``), so only Inductor decomposes
(with the debugging backend that copies its tracing, ``aot_eager_decomp_partition``): eager calls,
``torch.export`` (``run_decompositions()`` included) and the other backends keep the operators.

The compile caches. Inductor's FX graph cache keys an entry on the graph after the
decompositions, so it never mixes graphs with and without them. AOTAutograd's cache keys on the
graph that dynamo captured, before the decompositions, and on Inductor's configuration, but not on
the decomposition table: an entry written by a process without these decompositions (an older
mykernels), or with other ones, would be taken by one with them, and the other way round. (A graph
that calls the public functions, mykernels.<name>, never uses that cache: dynamo puts those
functions into the graph as they are, and AOTAutograd declines to cache a graph that calls
functions outside torch. A graph that calls ``torch.ops.mykernels.*`` directly uses it.) So
`register` also writes a fingerprint of the decompositions (the source of the modules that define
them and of this one) into Inductor's configuration, which both caches' keys contain: the entry
``unsafe_marked_cacheable_functions["mykernels: Inductor decompositions"]``, whose name is no
function's, so that it marks nothing cacheable.

All of torch's private API that mykernels uses for this is in this module. Where it is missing or
has changed (another torch), `register` leaves the table as it is, logs why once, at INFO level,
on the "mykernels" logger, and the ops stay opaque to Inductor, and correct.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Callable

import torch

_log = logging.getLogger("mykernels")

# The fingerprint's name in Inductor's configuration (not the name of a function, which is
# "module.name").
FINGERPRINT_KEY = "mykernels: Inductor decompositions"

# Why the decompositions are off (None while they are on): set where torch lacks the API below.
unavailable: str | None = None

_registered: dict[torch._ops.OpOverload, Callable[..., object]] = {}


def register(overload: torch._ops.OpOverload, decomposition: Callable[..., object]) -> None:
    """Makes Inductor replace `overload` by `decomposition`, its math in torch operations.

    `decomposition` takes the operator's arguments, with fake or symbolic tensors, and returns
    what the operator would: the same dtype, shape and device, with values equal within the
    rounding of the op's dtype. It must always decompose (never return NotImplemented): Inductor
    has no fallback for an operator that is in its decomposition table. Registering an op again
    replaces its decomposition.
    """
    if unavailable is not None:
        return
    try:
        if not isinstance(overload, torch._ops.OpOverload):
            raise TypeError(f"register takes an OpOverload, got {type(overload).__name__}")
        table, select_table, config = _api()
        _registered[overload] = decomposition
        # The fingerprint first: a decomposition is never in the table while the caches' keys
        # lack it.
        _set_fingerprint(config, _fingerprint(_registered))
        table[overload] = decomposition
        _forget_derived_tables()
        # What a compile will use: the check that this torch picks its table as expected.
        if select_table().get(overload) is not decomposition:
            raise RuntimeError("select_decomp_table() does not see the decompositions registered")
    except Exception as error:  # the private API differs in this torch
        _turn_off(f"{type(error).__name__}: {error}")


def unregister() -> None:
    """Removes every decomposition that `register` added, and the fingerprint: the ops are opaque
    to Inductor again, as with a mykernels that has no decompositions."""
    if not _registered:
        return
    table, _, config = _api()
    for overload in _registered:
        table.pop(overload, None)
    _registered.clear()
    _forget_derived_tables()
    _set_fingerprint(config, None)


def registered() -> dict[torch._ops.OpOverload, Callable[..., object]]:
    """The decompositions that Inductor uses, by operator (empty where they are off)."""
    return dict(_registered)


def fingerprint() -> str | None:
    """The fingerprint of the registered decompositions that the compile caches' keys contain,
    or None where there are none."""
    if unavailable is not None or not _registered:
        return None
    return _api()[2].unsafe_marked_cacheable_functions.get(FINGERPRINT_KEY)


def _api():
    """Inductor's decomposition table, the function that picks the table a compile uses, and
    Inductor's configuration. Importing them costs about 0.25 s at the first call, which is at
    `import mykernels`; a compile imports them anyway."""
    import torch._inductor.config as config
    import torch._inductor.decomposition as decomposition

    table = decomposition.decompositions
    if not isinstance(table, dict):
        raise TypeError(f"torch._inductor.decomposition.decompositions is a {type(table)}")
    if not isinstance(config.unsafe_marked_cacheable_functions, dict):
        raise TypeError("torch._inductor.config.unsafe_marked_cacheable_functions is no dict")
    return table, decomposition.select_decomp_table, config


def _forget_derived_tables() -> None:
    # select_decomp_table() returns a copy of the table merged with the random ops' decompositions,
    # made once (functools.cache): it is made again at the next compile.
    module = sys.modules.get("torch._inductor.decomposition")
    merged = getattr(module, "fast_random_decomps", None)
    if merged is not None and hasattr(merged, "cache_clear"):
        merged.cache_clear()


def _set_fingerprint(config, value: str | None) -> None:
    """Puts the fingerprint into Inductor's configuration (removes it for None)."""

    def updated(marked: dict[str, str]) -> dict[str, str]:
        marked = dict(marked)
        if value is None:
            marked.pop(FINGERPRINT_KEY, None)
        else:
            marked[FINGERPRINT_KEY] = value
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
