"""mykernels.square: torch.square's values, including the edges of each dtype's range."""

from __future__ import annotations

import pytest
import torch

import mykernels
from helpers import DEVICES, DTYPES, random


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_equals_torch_square(dtype, device):
    # One multiplication in the compute type and one rounding: the same bits as torch.
    x = random(4099, dtype, device, scale=100.0)
    torch.testing.assert_close(mykernels.square(x), torch.square(x), rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values(dtype, device):
    info = torch.finfo(dtype)
    x = torch.tensor(
        [0.0, -0.0, float("inf"), float("-inf"), float("nan"), info.max, -info.max, info.tiny,
         info.smallest_normal / 4, 1.5],
        dtype=dtype,
        device=device,
    )  # fmt: skip
    torch.testing.assert_close(mykernels.square(x), torch.square(x), rtol=0, atol=0, equal_nan=True)
