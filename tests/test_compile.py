"""The ops under torch.compile, torch.export and meta tensors."""

from __future__ import annotations

import pytest
import torch

import mykernels
from helpers import DEVICES, assert_matches, random


def _all_three(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return mykernels.d_sigmoid(mykernels.add(mykernels.square(x), y, alpha=-0.5))


def _reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    h = torch.square(x.double()) - 0.5 * y.double()
    return torch.sigmoid(h) * torch.sigmoid(-h)


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph(device, dynamic):
    compiled = torch.compile(_all_three, fullgraph=True, dynamic=dynamic)
    for n in (33, 1000):  # a second shape: recompiles, or reuses the dynamic graph
        x, y = random((n, 5), device=device), random((5,), device=device)
        assert_matches(compiled(x, y), _reference(x, y), torch.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_compile_backward(device):
    compiled = torch.compile(_all_three, fullgraph=True)
    x = random((17, 4), torch.float64, device).requires_grad_()
    y = random((4,), torch.float64, device).requires_grad_()
    compiled(x, y).sum().backward()
    x64, y64 = x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()
    _reference(x64, y64).sum().backward()
    torch.testing.assert_close(x.grad, x64.grad)
    torch.testing.assert_close(y.grad, y64.grad)


def test_export():
    class Model(torch.nn.Module):
        def forward(self, x, y):
            return _all_three(x, y)

    x, y = random((6, 5)), random((5,))
    program = torch.export.export(Model(), (x, y))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert {
        "mykernels.square.default",
        "mykernels.add.default",
        "mykernels.d_sigmoid.default",
    } <= targets
    assert_matches(program.module()(x, y), _reference(x, y), torch.float32)


def test_meta_tensors():
    x = torch.empty(4, 1, 3, device="meta", dtype=torch.float16)
    y = torch.empty(5, 1, device="meta")
    assert mykernels.square(x).shape == (4, 1, 3)
    out = mykernels.add(x, y)
    assert (out.shape, out.dtype, out.device.type) == ((4, 5, 3), torch.float32, "meta")
    assert (
        mykernels.d_sigmoid(torch.empty(2, device="meta", dtype=torch.int64)).dtype == torch.float32
    )
