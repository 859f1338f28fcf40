"""A script with type mistakes that type checkers must report, one per public function: a result
assigned to an int, an argument name that is not the function's. (.ci/run runs mypy on it and
expects exactly these errors.)"""

from __future__ import annotations

import torch

import mykernels

x = torch.randn(8)
n: int = mykernels.square(x)
m: int = mykernels.d_sigmoid(x)
k: int = mykernels.add(x, x, alpha=2.0)
mykernels.add(a=x, b=x)
