"""The op library, ``lib/libmykernels.so``: the operators ``torch.ops.mykernels.*`` with their CPU
and CUDA kernels, on torch's stable ABI and without Python (cpp/operators). Importing this module
loads it with ``torch.ops.load_library``, which registers the operators, and reads what it holds
through its one C function, ``mykernels_library_info`` (cpp/operators/library_info.h)."""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path

import torch

_NAME = "libmykernels.so"


def _find() -> Path:
    # The package's directories: one in a wheel's install; the source and the build's install in
    # an editable one.
    searched = [Path(d) / "lib" / _NAME for d in sys.modules[__package__].__path__]
    for path in searched:
        if path.is_file():
            return path
    looked = ", ".join(map(str, searched))
    raise ImportError(f"mykernels: the op library is missing (looked for {looked}); reinstall it")


PATH = _find()
torch.ops.load_library(str(PATH))

_info_function = ctypes.CDLL(str(PATH)).mykernels_library_info
_info_function.restype = ctypes.c_char_p
_INFO = json.loads(_info_function())

# Each op of the table (cpp/core/ops.h) and how its result dtype follows from its inputs':
# "common" or "integer_to_float".
OPS: dict[str, str] = _INFO["ops"]
# The CPU engine's instruction set on this CPU: "avx512_bf16", "avx512", "avx2" or "default".
CPU_CAPABILITY: str = _INFO["cpu_capability"]
# CUDART_VERSION of the CUDA kernels (13000 for 13.0), or None for a build without them.
CUDA_RUNTIME_VERSION: int | None = _INFO["cuda_runtime_version"]
