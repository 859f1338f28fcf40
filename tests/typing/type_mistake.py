"""A script with a type mistake that type checkers must report: a result assigned to an int.
(.ci/run runs mypy on it and expects exactly this error.)"""

from __future__ import annotations

import torch

import mykernels

n: int = mykernels.square(torch.randn(8))
