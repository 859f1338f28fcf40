"""mykernels: elementwise PyTorch operators with CPU and CUDA kernels.

The operators are real torch operators (``torch.ops.mykernels.*``) with autograd, fake kernels for
``torch.compile``, and CUDA kernels that run on their tensors' device and current stream::

    import torch, mykernels
    y = mykernels.square(torch.randn(8))
    z = mykernels.add(y, torch.ones(8), alpha=2)
    g = mykernels.d_sigmoid(z)
"""

from __future__ import annotations

import os
import warnings

import torch  # libtorch must be loaded before the op library and the binding, which link it

from ._build_config import BUILD_INFO as _BUILD_INFO


def _check_torch_version() -> None:
    # The op library and the binding use torch's stable ABI as of torch_min: they run with that
    # torch and every later one, and cannot load under an older one.
    minimum = _BUILD_INFO["torch_min"]
    running = torch.__version__

    def release(version: str) -> tuple[int, int]:
        major, minor = version.split("+")[0].split(".")[:2]
        return int(major), int(minor)

    if release(running) < release(minimum):
        raise ImportError(
            f"mykernels needs torch >= {minimum}, but torch {running} is installed. "
            f"Upgrade torch: pip install 'torch>={minimum}'"
        )


_check_torch_version()


def _check_cpu_capability() -> None:
    # MYKERNELS_CPU_CAPABILITY caps the CPU kernels' instruction set (cpp/cpu/engine.cpp),
    # which ignores any other value.
    capabilities = ("default", "avx2", "avx512", "avx512_bf16")
    requested = os.environ.get("MYKERNELS_CPU_CAPABILITY")
    if requested not in (None, "", *capabilities):
        warnings.warn(
            f"MYKERNELS_CPU_CAPABILITY={requested!r} is not one of {', '.join(capabilities)}; "
            "it is ignored and the CPU kernels use the best instruction set this CPU has",
            RuntimeWarning,
            stacklevel=3,
        )


_check_cpu_capability()

from . import _binding, _library, ops  # noqa: E402  (_library registers torch.ops.mykernels)
from .ops import *  # noqa: E402, F403  (the public functions, one per op: ops.__all__)

__version__: str = _BUILD_INFO["version"]


def library_path() -> str:
    """The path of the op library, ``libmykernels.so``: the operators ``torch.ops.mykernels.*``
    with their CPU and CUDA kernels, without Python. Another process registers them by loading it:
    ``torch.ops.load_library(path)`` in Python, ``dlopen`` in a C++ program linked to LibTorch
    (README, "Using the ops from C++ and AOTInductor")."""
    return str(_library.PATH)


def build_info() -> dict[str, object]:
    """What this copy of mykernels was built with.

    Keys: ``version`` (mykernels), ``torch`` (the torch version it was compiled against; the
    binary uses torch's stable ABI and runs with every torch from ``torch_min`` on), ``torch_min``,
    ``cuda`` (the CUDA toolkit version, or None for a CPU-only build), ``cuda_architectures`` (the
    GPU machine code it carries, e.g. ``["sm_90"]``), ``cuda_ptx`` (PTX it carries for JIT
    compilation on newer GPUs), ``compiler``, ``cuda_compiler``, ``build_type``, ``commit`` (the
    git commit it was built from, with ``-dirty`` for uncommitted changes; None outside a git
    checkout), ``bindings`` (the CPython versions the package has the eager fast path's binding
    for, e.g. ``["3.12"]``) and ``fast_path`` (how the eager fast path reaches tensors under the
    running interpreter and torch, or why it is off: then every call goes through the operators).
    """
    info = {key: list(v) if isinstance(v, list) else v for key, v in _BUILD_INFO.items()}
    runtime = _library.CUDA_RUNTIME_VERSION  # of the compiled kernels, e.g. 13000
    info["cuda"] = None if runtime is None else f"{runtime // 1000}.{runtime % 1000 // 10}"
    info["fast_path"] = _binding.status
    return info


__all__ = ["__version__", "build_info", "library_path"]
# The public functions, one per op: ops.__all__ is a literal list, and this is the form of
# extending __all__ that pyright reads statically (mypy sees the functions' signatures through
# `from .ops import *`; a star import of mykernels gives it only the names above).
__all__ += ops.__all__
