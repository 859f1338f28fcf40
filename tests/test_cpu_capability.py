"""Each version of the CPU kernels (x86-64 baseline, AVX2, AVX-512, AVX-512 with AVX512-BF16)
computes the same results: all but the best one this CPU has run only where
MYKERNELS_CPU_CAPABILITY asks for them, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import mykernels

# The 16-bit conversions bit for bit, d_sigmoid on every 16-bit input, each op, dtype and
# layout against its float64 reference, then the capability in use.
CHECK = """
import torch, mykernels
from helpers import DTYPES, OPS, assert_matches, with_layout
from test_d_sigmoid import test_16_bit_every_input_on_the_cpu
from test_elementwise import test_16_bit_conversions_are_exact
for dtype in (torch.float16, torch.bfloat16):
    test_16_bit_conversions_are_exact(dtype, "cpu")
    test_16_bit_every_input_on_the_cpu(dtype)
for op in OPS:
    for dtype in DTYPES:
        for layout in ("contiguous", "sliced", "expanded"):
            inputs = op.inputs((37, 1029), dtype, "cpu", layout)
            assert_matches(op.fn(*inputs), op.reference(*(x.double() for x in inputs)), dtype)
print(mykernels._library.CPU_CAPABILITY)
"""
ORDER = ["default", "avx2", "avx512", "avx512_bf16"]


@pytest.mark.parametrize("capability", ORDER)
def test_capability(capability):
    best = mykernels._library.CPU_CAPABILITY
    if ORDER.index(capability) > ORDER.index(best):
        pytest.skip(f"this CPU's best is {best}")
    env = dict(os.environ, MYKERNELS_CPU_CAPABILITY=capability)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [capability]


def test_unknown_capability_is_reported():
    env = dict(os.environ, MYKERNELS_CPU_CAPABILITY="avx9000")
    result = subprocess.run(
        [sys.executable, "-c", "import mykernels; print(mykernels._library.CPU_CAPABILITY)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "MYKERNELS_CPU_CAPABILITY='avx9000' is not one of default, avx2, avx512, avx512_bf16"
        in result.stderr
    )
    assert result.stdout.split() == [mykernels._library.CPU_CAPABILITY]
