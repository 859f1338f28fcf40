"""Huge tensors, many calls, many threads."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

import mykernels
from helpers import DEVICES, OP_PARAMS, assert_matches, random, requires_cuda


@requires_cuda
def test_more_than_2_to_the_31_elements():
    # float16: 3 tensors of 2^31 + 4099 elements, 13 GB. Checked at both ends and at random
    # positions, through the flat vectorized path (square), the flat unaligned path (d_sigmoid of
    # x[1:]) and the strided path (add with a broadcast operand).
    n = (1 << 31) + 4099
    if torch.cuda.mem_get_info()[0] < 16 * n:
        pytest.skip("needs about 34 GB of free GPU memory")
    x = torch.empty(n, dtype=torch.float16, device="cuda").uniform_(-4, 4)
    far = torch.cat([
        torch.arange(0, 4096),
        torch.randint(0, n, (1 << 16,)),
        torch.arange((1 << 31) - 4096, (1 << 31) + 4096),
        torch.arange(n - 4096, n),
    ]).cuda()  # fmt: skip
    y = mykernels.square(x)
    assert_matches(y[far], torch.square(x[far].double()), torch.float16)
    del y
    b = random((1,), torch.float16, "cuda")
    z = mykernels.add(x, b, alpha=-1)
    assert_matches(z[far], x[far].double() - b.double(), torch.float16)
    del z
    w = mykernels.d_sigmoid(x[1:])
    inner = far[far < n - 1]
    expected = torch.sigmoid(x[1:][inner].double()) * torch.sigmoid(-x[1:][inner].double())
    assert_matches(w[inner], expected, torch.float16)


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


@pytest.mark.parametrize("device", DEVICES)
def test_100000_calls_leak_nothing(device):
    x, y = random((64,), device=device), random((64,), device=device)
    ops = [
        lambda: mykernels.square(x),
        lambda: mykernels.add(x, y, alpha=2),
        lambda: mykernels.d_sigmoid(x),
    ]

    def call(times: int) -> None:
        for i in range(times):
            ops[i % 3]()

    call(3000)  # warm up: allocator caches, lazy initialization
    gc.collect()
    cuda = device == "cuda"
    before = torch.cuda.memory_allocated() if cuda else _resident_bytes()
    call(100_000)
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        assert torch.cuda.memory_allocated() == before
    else:
        # 100,000 calls: a leak of 50 bytes a call would show as 5 MB.
        assert _resident_bytes() - before < 5 * 1024 * 1024


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_eight_threads(op, device):
    def work(worker: int) -> int:
        for i in range(40):
            n = 1 + 997 * worker + 131 * i  # different sizes in every thread
            inputs = op.inputs((n,), device=device)
            assert_matches(
                op.fn(*inputs), op.reference(*(x.double() for x in inputs)), torch.float32
            )
        return worker

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(work, range(8))) == list(range(8))
