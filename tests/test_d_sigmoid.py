"""mykernels.d_sigmoid: s(1 - s) computed stably, promoted like torch.sigmoid."""

from __future__ import annotations

import pytest
import torch

import mykernels
from helpers import DEVICES, DTYPES, assert_matches, random


def _reference(z: torch.Tensor) -> torch.Tensor:
    z = z.double()
    return torch.sigmoid(z) * torch.sigmoid(-z)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values(dtype, device):
    z = torch.tensor(
        [0.0, -0.0, float("inf"), float("-inf"), float("nan")], dtype=dtype, device=device
    )
    result = mykernels.d_sigmoid(z)
    assert result[:2].eq(0.25).all()  # exactly
    assert result[2:4].eq(0).all()
    assert result[4].isnan()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_finite_and_nonnegative_everywhere(dtype, device):
    info = torch.finfo(dtype)
    z = torch.cat([
        random(10000, dtype, device, scale=30.0),
        # Near 0, where the rounding of (1 + t)^2 could lift the quotient above 0.25.
        torch.linspace(-1e-3, 1e-3, 20001, dtype=torch.float64, device=device).to(dtype),
        torch.tensor([info.max, -info.max, info.tiny, -info.tiny, 88.0, -88.0, 1e4, -1e4],
                     dtype=dtype, device=device),
    ])  # fmt: skip
    result = mykernels.d_sigmoid(z)
    assert result.isfinite().all()
    assert (result >= 0).all()
    assert (result <= 0.25).all()
    assert_matches(result, _reference(z), dtype)


@pytest.mark.parametrize("device", DEVICES)
def test_tails_are_accurate(device):
    # Far from 0, s(1 - s) ~ exp(-|z|); the naive formula returns 0 in float32 from |z| ~ 17 on.
    z = torch.linspace(15, 80, 200, dtype=torch.float32, device=device)
    for signed in (z, -z):
        result = mykernels.d_sigmoid(signed)
        torch.testing.assert_close(result.double(), _reference(signed), rtol=1e-5, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16_bit_tails_within_an_ulp(dtype, device):
    # Within one ulp of the dtype of the exact value, out to bfloat16's subnormals (z ~ 92,
    # where float32's exp(-|z|) is itself subnormal): the CUDA kernels' fast exponential must
    # lose nothing that the rounding to 16 bits keeps.
    info = torch.finfo(dtype)
    z = torch.linspace(0, 95, 4001, dtype=torch.float64).to(dtype).to(device)
    for signed in (z, -z):
        expected = _reference(signed)
        magnitude = expected.to(dtype).double().abs().clamp(min=info.tiny)
        ulp = torch.exp2(torch.floor(torch.log2(magnitude))) * info.eps
        error = (mykernels.d_sigmoid(signed).double() - expected).abs()
        assert (error <= ulp).all(), (signed[error > ulp], error.max())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16_bit_every_input_on_the_cpu(dtype):
    # The CPU kernels compute the exponential of 16-bit results to far less than float32's
    # precision (cpp/core/math.h). Every finite float16 and bfloat16 input's result is still the
    # rounding of a float within 2e-6 (relative) of the exact value, the engine tests' contract:
    # the exact value's own rounding, but where that lies so close to a halfway point between
    # two 16-bit numbers that a float near it rounds the other way (float16 0.1128 under qemu's
    # AArch64). The CUDA kernels' are within an ulp: test_16_bit_tails_within_an_ulp.
    every = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)
    z = every[every.isfinite()]
    t = torch.exp(-z.double().abs())
    exact = t / (1 + t) ** 2
    low, high = (exact * (1 - 2e-6)).to(dtype), (exact * (1 + 2e-6)).to(dtype)
    result = mykernels.d_sigmoid(z)
    wrong = (result < low) | (result > high)
    assert not wrong.any(), (z[wrong], result[wrong], exact[wrong])


@pytest.mark.parametrize("device", DEVICES)
def test_symmetric(device):
    z = random(5000, torch.float32, device)
    torch.testing.assert_close(mykernels.d_sigmoid(z), mykernels.d_sigmoid(-z), rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "dtype", [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]
)
@pytest.mark.parametrize("default", [torch.float32, torch.float64])
def test_integers_promote_like_sigmoid(dtype, default, device):
    z = torch.randint(-100, 100, (257,), device=device).to(dtype)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        result = mykernels.d_sigmoid(z)
        assert result.dtype == torch.sigmoid(z).dtype == default
    finally:
        torch.set_default_dtype(previous)
    assert_matches(result, _reference(z), default)
