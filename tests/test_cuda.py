"""CUDA specifics: the current stream, the tensors' device, CUDA graphs."""

from __future__ import annotations

import pytest
import torch

from helpers import OP_PARAMS, assert_matches, random, requires_cuda, requires_two_gpus

pytestmark = requires_cuda


@pytest.mark.parametrize("op", OP_PARAMS)
def test_runs_on_the_current_stream(op):
    # The inputs are written on a side stream after a long sleep; a kernel launched anywhere but on
    # that stream would read them before they are written.
    stream = torch.cuda.Stream()
    sources = op.inputs(1 << 20, device="cuda")
    inputs = op.inputs(1 << 20, device="cuda")
    torch.cuda.synchronize()
    with torch.cuda.stream(stream):
        torch.cuda._sleep(50_000_000)
        for x, source in zip(inputs, sources, strict=True):
            x.copy_(source)
        result = op.fn(*inputs)
    stream.synchronize()
    assert_matches(result, op.reference(*(s.double() for s in sources)), torch.float32)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_cuda_graph_replay(op):
    inputs = op.inputs((999, 7), device="cuda")
    op.fn(*inputs)  # warm up outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        result = op.fn(*inputs)
    for _ in range(3):  # new values in the captured inputs, then replay
        for x in inputs:
            x.copy_(random(x.shape, device="cuda"))
        graph.replay()
        torch.cuda.synchronize()
        assert_matches(result, op.reference(*(x.double() for x in inputs)), torch.float32)


@requires_two_gpus
@pytest.mark.parametrize("op", OP_PARAMS)
def test_runs_on_the_tensors_device(op):
    torch.cuda.set_device(0)
    inputs = op.inputs((4097,), device="cuda:1")
    result = op.fn(*inputs)
    assert result.device == torch.device("cuda:1")
    assert torch.cuda.current_device() == 0
    assert_matches(result, op.reference(*(x.double() for x in inputs)), torch.float32)
