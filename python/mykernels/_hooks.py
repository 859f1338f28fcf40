"""Work that waits for a module's import: what mykernels registers with torch's compiler
(``torch._dynamo``, ``torch._inductor``) and with DTensor (``torch.distributed.tensor``) goes in
when the program imports them, not at ``import mykernels``: a program that never compiles or
shards pays nothing for them (importing dynamo alone takes over a second)."""

from __future__ import annotations

import importlib.abc
import logging
import sys
import threading
from collections.abc import Callable

# Held while hooks go in and come out: the import of a module and `when_imported` may run in two
# threads. (A hook that goes in after another thread's import found the module but before it put
# the module into sys.modules would wait for a later import: the window is that of one find_spec.)
_lock = threading.RLock()
_log = logging.getLogger("mykernels")


def when_imported(name: str, then: Callable[[], None]) -> None:
    """Runs `then` now where the module `name` is imported, and otherwise just after its import
    (after its own code has run). `then` may run twice (where another thread imports the module
    while the hook goes in). An error it raises is logged, not raised into the program's import."""
    with _lock:
        if name not in sys.modules:
            hook = next(
                (f for f in sys.meta_path if isinstance(f, _AfterImport) and f.name == name), None
            )
            if hook is None:
                sys.meta_path.insert(0, _AfterImport(name, [then]))
            else:
                hook.then.append(then)
            if name not in sys.modules:
                return
    _run(then)  # imported before, or while, the hook went in


def _run(then: Callable[[], None]) -> None:
    try:
        then()
    except Exception:
        _log.warning("mykernels: a registration after an import failed", exc_info=True)


class _AfterImport(importlib.abc.MetaPathFinder):
    """A finder that finds nothing itself: it lets the other finders find the module `name`, and
    gives its spec a loader that runs the functions `then` after the module's own code. It stays
    until that code has run (a spec found without an import, or an import that failed, leaves
    it)."""

    def __init__(self, name: str, then: list[Callable[[], None]]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = getattr(finder, "find_spec", lambda *_: None)(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenLoader(spec.loader, self)
                return spec
        return None

    def imported(self) -> None:
        with _lock:
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            then = list(self.then)
        for function in then:
            _run(function)


class _ThenLoader(importlib.abc.Loader):
    """A module's loader, which tells `hook` once the module's code has run."""

    def __init__(self, loader, hook: _AfterImport) -> None:
        self.loader, self.hook = loader, hook

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        self.hook.imported()

    def __getattr__(self, name: str):  # get_source, get_code, ... of the module's own loader
        return getattr(self.loader, name)
