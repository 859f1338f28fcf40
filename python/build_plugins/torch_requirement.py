"""Build-time metadata of mykernels: the torch requirement of the wheel.

The extension links libtorch, whose C++ ABI changes between minor releases, so a wheel can only run
with the torch minor version it was built against. This scikit-build-core metadata provider reads
that version from the build environment's torch and pins it, e.g. ``torch>=2.13,<2.14``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from typing import Any


def dynamic_metadata(settings: Mapping[str, Any], project: Mapping[str, Any]) -> dict[str, Any]:
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        msg = (
            "mykernels builds against the installed torch, and there is none. Install torch first "
            "(pip install torch), then: pip install --no-build-isolation ."
        )
        raise RuntimeError(msg) from None
    major, minor = (int(part) for part in version.split("+")[0].split(".")[:2])
    return {"dependencies": [f"torch>={major}.{minor},<{major}.{minor + 1}"]}
