"""A user's script that type checkers must accept: every op, by position and by keyword, out= and in
place, and the build information. (.ci/run runs mypy on it; it is not a test module.)"""

from __future__ import annotations

import torch

import mykernels

x = torch.randn(8)
y: torch.Tensor = mykernels.square(x)
z: torch.Tensor = mykernels.add(y, x, alpha=0.5)
z = mykernels.add(input=y, other=x)
g: torch.Tensor = mykernels.d_sigmoid(input=z)
w: torch.Tensor = mykernels.add(y, x, alpha=2.0, out=z)  # out= and in-place forms
w = mykernels.square_(w)
w = mykernels.add_(w, x, alpha=0.5)
w = mykernels.d_sigmoid_(w)
mykernels.square(x, out=None)
info: dict[str, object] = mykernels.build_info()
path: str = mykernels.library_path()
version: str = mykernels.__version__
print(g.shape, info["version"], path, version)
