"""The binding, ``mykernels._C``: the public functions' eager fast path (cpp/binding), for the
interpreters the wheel has one for (``build_info()["bindings"]``).

Without it, because the wheel holds none for the running interpreter or because
``MYKERNELS_FAST_PATH=0`` is set, the public functions are the ops' Python functions, which call
the operators: the same results and errors, with a longer call path (BENCHMARKS.md)."""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Callable

from . import _library  # noqa: F401  (loaded first: the binding NEEDs the op library)
from ._build_config import BUILD_INFO


def _interpreter() -> str:
    """The running interpreter as the bindings are named: "3.12", "3.14t" for CPython; another
    implementation by its name ("pypy 3.10"), which no binding serves."""
    free_threaded = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    name = "" if sys.implementation.name == "cpython" else f"{sys.implementation.name} "
    return f"{name}{sys.version_info[0]}.{sys.version_info[1]}{free_threaded}"


def _load() -> tuple[object | None, str]:
    """The binding module, or None; and how the fast path runs, or why it is off."""
    if os.environ.get("MYKERNELS_FAST_PATH", "1") == "0":
        return None, "off: MYKERNELS_FAST_PATH=0"
    if _interpreter() not in BUILD_INFO["bindings"]:
        built = ", ".join(BUILD_INFO["bindings"]) or "none"
        running = _interpreter()
        running = running if " " in running else f"CPython {running}"
        return None, f"off: no binding for {running} (built for CPython {built})"
    # The op library is loaded (above): the binding NEEDs it and finds it loaded. A binding that
    # is there but fails to load is a broken install, and raises.
    from . import _C

    return _C, _C.fast_path


module, status = _load()
if module is not None and not status.startswith("dlpack"):
    module = None  # the binding found torch lacking: every call would decline


def public(function: Callable[..., object], doc: str) -> Callable[..., object]:
    """The public function of the op whose Python function is `function`: the binding's C function
    (the fast path, then `function` for every call it declines), or `function` itself."""
    if module is None:
        return function
    return module._public(function, doc)
