"""A script with type mistakes that type checkers must report: a result assigned to an int, one per
public function; argument names that are not the function's; an out= that is not a tensor.
(.ci/run runs mypy on it and expects exactly these errors.)"""

from __future__ import annotations

import torch

import mykernels

x = torch.randn(8)
n: int = mykernels.square(x)
m: int = mykernels.d_sigmoid(x)
k: int = mykernels.add(x, x, alpha=2.0)
i: int = mykernels.square_(x)
j: int = mykernels.d_sigmoid_(x)
h: int = mykernels.add_(x, x)
mykernels.add(a=x, b=x)
mykernels.square(x, out=1)
