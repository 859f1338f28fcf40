"""The ops under torch.compile's Inductor: fused with each other and with torch ops through their
Inductor decompositions (mykernels/_inductor.py), forward and backward, with the compile caches;
each op's own kernel where it has nothing to fuse with; and opaque but correct where torch lacks
what the decompositions need."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd
from torch._inductor.utils import run_and_get_code

import mykernels
from helpers import DEVICES, DTYPES, OP_PARAMS, TABLE, assert_matches, random

# A kernel that Inductor generated, as its output code defines it: `name = async_compile.cpp_pybinding(`
# on the CPU, `name = async_compile.triton(` on a GPU.
_KERNEL = re.compile(r"^\w+ = async_compile\.\w+\(", re.MULTILINE)
# A call of an operator as an opaque kernel: what a decomposition replaces.
_OPAQUE = "torch.ops.mykernels."


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _assert_fused(code: str, kernels: int | None = 1) -> None:
    """code (one graph's output code) calls no mykernels operator, and has `kernels` kernels."""
    calls = [line.strip() for line in code.splitlines() if _OPAQUE in line]
    assert not calls, f"mykernels operators called as opaque kernels: {calls}"
    if kernels is not None:
        assert len(_KERNEL.findall(code)) == kernels, code


def _assert_opaque(code: str, name: str) -> None:
    """code (one graph's output code) calls the operator `name` once and generates no kernel."""
    calls = re.findall(r"= torch\.ops\.mykernels\.(\w+)\.default\(", code)
    assert calls == [name], code
    assert not _KERNEL.findall(code), code


def _neighbour(t: torch.Tensor) -> torch.Tensor:
    """t through an exact torch op (negation; logical not for bool): something for an op that
    takes the result to fuse with."""
    return torch.logical_not(t) if t.dtype == torch.bool else torch.neg(t)


def _one_fused_kernel(fn, *inputs: torch.Tensor) -> torch.Tensor:
    """fn(*inputs) under torch.compile, checked to be one graph of one kernel that calls no
    mykernels operator."""
    result, codes = run_and_get_code(torch.compile(fn, fullgraph=True), *inputs)
    (code,) = codes
    _assert_fused(code)
    return result


def _chain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return mykernels.square(mykernels.d_sigmoid(mykernels.add(x, y, alpha=0.5)))


def _chain_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    h = x.double() + 0.5 * y.double()
    return torch.square(torch.sigmoid(h) * torch.sigmoid(-h))


def test_decompositions_are_registered():
    assert mykernels._inductor.unavailable is None, mykernels._inductor.unavailable
    assert set(mykernels._inductor.registered()) == {
        getattr(torch.ops.mykernels, name).default for name in TABLE
    }
    assert mykernels._inductor.fingerprint() is not None


@pytest.mark.parametrize("device", DEVICES)
def test_chain_is_one_kernel(device):
    x, y = random((64, 33), device=device), random((33,), device=device)
    assert_matches(_one_fused_kernel(_chain, x, y), _chain_reference(x, y), torch.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_each_op_with_a_neighbour_is_one_kernel(op, device):
    inputs = op.inputs((37, 129), device=device)

    def before(*tensors):  # a torch op computes the inputs
        return op.fn(*map(_neighbour, tensors))

    def after(*tensors):  # a torch op takes the result
        return op.fn(*tensors) * 3

    for fn, expected in [
        (before, op.reference(*(_neighbour(t.double()) for t in inputs))),
        (after, op.reference(*(t.double() for t in inputs)) * 3),
    ]:
        assert_matches(_one_fused_kernel(fn, *inputs), expected, torch.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_each_op_alone_keeps_its_kernel(op, device):
    # Nothing to fuse with: the graph's inputs in, the graph's output out.
    inputs = op.inputs((37, 129), device=device)
    result, codes = run_and_get_code(torch.compile(op.fn, fullgraph=True), *inputs)
    (code,) = codes
    _assert_opaque(code, op.name)
    torch.testing.assert_close(result, op.fn(*inputs), rtol=0, atol=0)
    # Under autograd, the joint graph decides: square and add keep their kernels in the forward
    # graph, d_sigmoid's result feeds its backward, and it is fused with what the backward needs.
    torch._dynamo.reset()
    inputs = [t.requires_grad_() for t in inputs]
    result = torch.compile(op.fn, fullgraph=True)(*inputs)
    torch.testing.assert_close(result, op.fn(*inputs))
    grads = torch.autograd.grad(result.sum(), inputs)
    torch.testing.assert_close(grads, torch.autograd.grad(op.fn(*inputs).sum(), inputs))


@pytest.mark.parametrize("device", DEVICES)
def test_chain_with_torch_ops_is_one_kernel(device):
    def mixed(x, y):
        h = mykernels.add(torch.sin(x), y * 3, alpha=-0.75)
        return torch.tanh(mykernels.square(h)) * mykernels.d_sigmoid(x) - torch.relu(y)

    def reference(x, y):
        x, y = x.double(), y.double()
        h = torch.sin(x) - 0.75 * y * 3
        return torch.tanh(h * h) * torch.sigmoid(x) * torch.sigmoid(-x) - torch.relu(y)

    x, y = random((50, 40), device=device), random((50, 40), device=device)
    assert_matches(_one_fused_kernel(mixed, x, y), reference(x, y), torch.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OP_PARAMS)
def test_every_dtype_matches_the_reference(op, device):
    # One graph for the four dtypes: one compile. Negated inputs, so that each op has a
    # neighbour to fuse with.
    def each(*tensors):
        return [
            op.fn(*map(_neighbour, tensors[i : i + op.arity]))
            for i in range(0, len(tensors), op.arity)
        ]

    inputs = [t for dtype in DTYPES for t in op.inputs((33, 65), dtype, device)]
    results, codes = run_and_get_code(torch.compile(each, fullgraph=True), *inputs)
    (code,) = codes
    _assert_fused(code, kernels=None)
    for k, (result, dtype) in enumerate(zip(results, DTYPES, strict=True)):
        operands = inputs[k * op.arity : (k + 1) * op.arity]
        assert_matches(result, op.reference(*(-t.double() for t in operands)), dtype)


@pytest.mark.parametrize("device", DEVICES)
def test_d_sigmoid_special_values(device):
    reference = TABLE["d_sigmoid"].reference
    special = [0.0, -0.0, float("inf"), float("-inf"), float("nan")]

    def values(dtype):
        info = torch.finfo(dtype)
        return torch.cat([
            torch.tensor(special, dtype=dtype, device=device),
            # Near 0, where s is near 1/2 and the rounding of 1 - s could lift s(1 - s) above 0.25
            # (the decomposition's comment says why it cannot).
            torch.linspace(-1e-3, 1e-3, 2001, dtype=torch.float64, device=device).to(dtype),
            torch.empty(20000, dtype=torch.float64, device=device).uniform_(-3e-3, 3e-3).to(dtype),
            # The tails, down to the smallest results and past them.
            torch.tensor([20.0, -20.0, 88.0, -88.0, 100.0, -100.0, 1e4, -1e4, info.max, -info.max,
                          info.tiny, -info.tiny], dtype=dtype, device=device),
            random(1000, dtype, device, scale=30.0),
        ])  # fmt: skip

    tails = torch.linspace(15, 80, 200, dtype=torch.float32, device=device)
    integers = torch.randint(-100, 100, (257,), device=device)
    inputs = [*(values(dtype) for dtype in DTYPES), tails, -tails, integers, integers > 0]
    # d_sigmoid is even, and the negation that gives it a neighbour is exact: the results are
    # those of z. (Logical not for bool z.)
    results, codes = run_and_get_code(
        torch.compile(lambda *zs: [mykernels.d_sigmoid(_neighbour(z)) for z in zs], fullgraph=True),
        *inputs,
    )
    _assert_fused(codes[0], kernels=None)
    inputs[-1] = torch.logical_not(inputs[-1])
    for z, result, dtype in zip(inputs, results, DTYPES, strict=False):
        n = len(special)
        assert result[:2].eq(0.25).all()  # exactly
        assert result[2:4].eq(0).all()
        assert result[4].isnan()
        assert ((result[n:] >= 0) & (result[n:] <= 0.25)).all()
        assert_matches(result, reference(z.double()), dtype)
    # Far from 0, s(1 - s) ~ exp(-|z|), to float32's precision.
    for z, result in zip(inputs[4:6], results[4:6], strict=True):
        torch.testing.assert_close(result.double(), reference(z.double()), rtol=1e-5, atol=0)
    # Integer and bool z: the default dtype, like torch.sigmoid.
    for z, result in zip(inputs[6:], results[6:], strict=True):
        assert_matches(result, reference(z.double()), torch.get_default_dtype())


# Inductor's CPU code generator warns of a bfloat16 and a float16 input in one kernel, as it does
# for torch.add.
@pytest.mark.filterwarnings("ignore:bf16 and fp16 are mixed in the scheduler node:UserWarning")
@pytest.mark.parametrize("device", DEVICES)
def test_add_broadcasting_and_promotion(device):
    cases = [  # a, b, alpha: the result dtype is torch.result_type(a, b)
        (random((5, 1, 3), torch.float16, device), random((4, 1), torch.float32, device), 0.75),
        (random((7,), torch.bfloat16, device), random((7,), torch.float16, device), -1.5),
        (random((9,), torch.float32, device), torch.tensor(2.5, dtype=torch.float64, device=device), 3),
        (random((9,), torch.float16, device), torch.tensor(0.123456789, dtype=torch.float64, device=device), 0.75),
        (torch.tensor(-1.25, dtype=torch.float64, device=device), random((2, 3), torch.bfloat16, device), 2),
        (torch.randint(-9, 9, (6, 3), device=device), random((3,), torch.float32, device), 0.5),
        # The 0-dim float64 operand is converted to float32 before the sum, which leaves
        # -1 + 1 = 0; computed in float64, the sum would be 2^-30.
        (torch.full((4,), -1.0, device=device), torch.tensor(1 + 2**-30, dtype=torch.float64, device=device), 1),
    ]  # fmt: skip

    # The graph negates negated inputs (exactly), so that each add has a neighbour to fuse with.
    def adds(*tensors):
        return [
            mykernels.add(-tensors[2 * k], -tensors[2 * k + 1], alpha=alpha)
            for k, (_, _, alpha) in enumerate(cases)
        ]

    inputs = [-t for a, b, _ in cases for t in (a, b)]
    results, codes = run_and_get_code(torch.compile(adds, fullgraph=True), *inputs)
    _assert_fused(codes[0], kernels=None)
    for (a, b, alpha), result in zip(cases, results, strict=True):
        dtype = torch.result_type(a, b)
        # mykernels' promotion: both operands converted to the result dtype, then the sum.
        expected = torch.add(a.to(dtype).double(), b.to(dtype).double(), alpha=alpha)
        assert_matches(result, expected.expand(torch.broadcast_shapes(a.shape, b.shape)), dtype)
    assert results[-1].eq(0).all()


@pytest.mark.parametrize("device", DEVICES)
def test_backward_is_fused(device):
    compiled = torch.compile(_chain, fullgraph=True)
    x = random((17, 4), torch.float64, device).requires_grad_()
    y = random((4,), torch.float64, device).requires_grad_()

    def step():
        out = compiled(x, y)
        out.sum().backward()
        return out

    result, codes = run_and_get_code(step)
    forward, backward = codes
    _assert_fused(forward)
    # The gradient of y is a sum over the broadcast dimension, which Inductor may give a kernel
    # of its own.
    _assert_fused(backward, kernels=None)
    assert 1 <= len(_KERNEL.findall(backward)) <= 2, backward
    x64, y64 = x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()
    expected = _chain_reference(x64, y64)
    expected.sum().backward()
    torch.testing.assert_close(result, expected)
    torch.testing.assert_close(x.grad, x64.grad)
    torch.testing.assert_close(y.grad, y64.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_dynamic_shapes(device):
    compiled = torch.compile(_chain, fullgraph=True, dynamic=True)
    y = random((5,), device=device)
    xs = [random((n, 5), device=device) for n in (33, 1000)]
    results, codes = run_and_get_code(lambda: [compiled(x, y) for x in xs])
    (code,) = codes  # one graph for both shapes
    _assert_fused(code)
    for x, result in zip(xs, results, strict=True):
        assert_matches(result, _chain_reference(x, y), torch.float32)


# torch 2.13's run_decompositions copies a pytree spec that warns of its own deprecation.
@pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"
)
def test_only_inductor_decomposes():
    class Model(torch.nn.Module):
        def forward(self, x, y):
            return _chain(x, y)

    ops = {"mykernels.square.default", "mykernels.add.default", "mykernels.d_sigmoid.default"}

    def targets(graph: torch.fx.Graph) -> set[str]:
        return {str(node.target) for node in graph.nodes if node.op == "call_function"}

    x, y = random((6, 5)), random((5,))
    program = torch.export.export(Model(), (x, y))
    assert ops <= targets(program.graph)
    # The core ATen decompositions leave the operators as they are.
    assert ops <= targets(program.run_decompositions().graph)
    assert_matches(program.module()(x, y), _chain_reference(x, y), torch.float32)
    # As does AOTAutograd without Inductor (what the aot_eager backend runs).
    graphs = []

    def record(graph_module, example_inputs):
        graphs.append(graph_module.graph)
        return make_boxed_func(graph_module.forward)

    backend = aot_autograd(fw_compiler=record, bw_compiler=record)
    torch.compile(_chain, backend=backend, fullgraph=True)(x.requires_grad_(), y)
    assert ops <= targets(graphs[0])


def test_fingerprint_follows_the_decompositions():
    overload = torch.ops.mykernels.d_sigmoid.default
    original = mykernels._inductor.registered()[overload]
    before = mykernels._inductor.fingerprint()

    def other(z):
        s = torch.sigmoid(z)
        return s * (1 - s)

    try:
        mykernels._inductor.register(overload, other)
        assert mykernels._inductor.fingerprint() != before
    finally:
        mykernels._inductor.register(overload, original)
    assert mykernels._inductor.fingerprint() == before


# The compile caches, in fresh processes that share a cache folder. Each one compiles two graphs:
# the public functions, statically, in the main thread (AOTAutograd's cache skips such a graph:
# Inductor's FX graph cache alone serves it); and the operators themselves, with dynamic shapes, in
# a thread of its own (AOTAutograd's cache serves it; from torch 2.13 on, a new thread reads only
# the configuration's defaults, which must hold the fingerprint too). "off" stands for a mykernels
# without decompositions.
_CACHE_CHILD = r"""
import json, re, sys, threading
import torch, mykernels
from torch._dynamo.utils import counters
from torch._inductor.utils import run_and_get_code

mode, device = sys.argv[1:]
OPAQUE = r"= torch\.ops\.mykernels\.\w+\.default\("
if mode == "off":
    mykernels._inductor.unregister()
ops = torch.ops.mykernels

def public(x, y):
    return mykernels.square(mykernels.d_sigmoid(mykernels.add(x, y, alpha=0.5)))

def operators(x, y):
    return ops.square.default(ops.d_sigmoid.default(ops.add.default(x, y, alpha=0.5)))

def compile_once(fn, dynamic):
    before = {k: dict(counters[k]) for k in ("inductor", "aot_autograd")}
    x, y = torch.randn(64, 33, device=device), torch.randn(33, device=device)
    out, codes = run_and_get_code(torch.compile(fn, fullgraph=True, dynamic=dynamic), x, y)
    h = torch.sigmoid(x.double() + 0.5 * y.double())
    torch.testing.assert_close(out, torch.square(h * (1 - h)).float())
    after = {k: dict(counters[k]) for k in ("inductor", "aot_autograd")}
    events = {
        f"{group}.{name}": after[group][name] - before[group].get(name, 0)
        for group in after for name in after[group]
        if "cache" in name and after[group][name] != before[group].get(name, 0)
    }
    return {"opaque": sum(len(re.findall(OPAQUE, code)) for code in codes), **events}

report = {"public": compile_once(public, False)}
thread = threading.Thread(target=lambda: report.update(operators=compile_once(operators, True)))
thread.start()
thread.join()
print(json.dumps(report))
"""


def _child_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The same mykernels as this process, however it was found.
    paths = [str(Path(mykernels.__file__).parents[1]), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["TORCHINDUCTOR_CACHE_DIR"] = str(cache)
    env["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "1"
    env["TORCHINDUCTOR_AUTOGRAD_CACHE"] = "1"
    return env


def _run_child(script: str, *args: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("device", DEVICES)
def test_compile_caches(device, tmp_path):
    env = _child_env(tmp_path)
    # A cold cache, without the decompositions: the operators are opaque.
    off = _run_child(_CACHE_CHILD, "off", device, env=env)
    # Both graphs use both caches: AOTAutograd's takes the public functions, which are C functions.
    graphs = ("public", "operators")
    assert off["public"]["opaque"] == off["operators"]["opaque"] == 3
    assert all(off[g]["aot_autograd.autograd_cache_saved"] == 1 for g in graphs), off
    # With them, over the entries written without them: none of those may serve.
    on = _run_child(_CACHE_CHILD, "on", device, env=env)
    assert on["public"]["opaque"] == on["operators"]["opaque"] == 0
    assert all(on[g]["aot_autograd.autograd_cache_miss"] == 1 for g in graphs), on
    assert all(on[g]["inductor.fxgraph_cache_miss"] == 1 for g in graphs), on
    # The warm cache serves the fused code.
    warm = _run_child(_CACHE_CHILD, "on", device, env=env)
    assert warm["public"]["opaque"] == warm["operators"]["opaque"] == 0
    assert all(warm[g]["aot_autograd.autograd_cache_hit"] == 1 for g in graphs), warm


# torch without the private API (simulated): mykernels imports, logs why once, and the ops are
# opaque to Inductor, and correct.
_DEGRADED_CHILD = r"""
import json, logging, re, sys
import torch

records = []
handler = logging.Handler()
handler.emit = records.append
logging.getLogger("mykernels").addHandler(handler)
logging.getLogger("mykernels").setLevel(logging.DEBUG)

how, device = sys.argv[1:]
# Inductor's joint-graph passes imported first, so that mykernels registers its patterns at import.
from torch._inductor.fx_passes import joint_graph
patterns = joint_graph.patterns
if how == "missing":  # the pattern matcher's pass is not there
    del joint_graph.patterns
else:  # it is something else
    joint_graph.patterns = {}
import mykernels
joint_graph.patterns = patterns

from torch._inductor.utils import run_and_get_code

def chain(x, y):
    return mykernels.square(mykernels.d_sigmoid(mykernels.add(x, y, alpha=0.5)))

x, y = torch.randn(64, 33, device=device), torch.randn(33, device=device)
out, codes = run_and_get_code(torch.compile(chain, fullgraph=True), x, y)
h = torch.sigmoid(x.double() + 0.5 * y.double())
torch.testing.assert_close(out, torch.square(h * (1 - h)).float())
print(json.dumps({
    "opaque": sum(len(re.findall(r"= torch\.ops\.mykernels\.\w+\.default\(", c)) for c in codes),
    "unavailable": mykernels._inductor.unavailable,
    "fingerprint": mykernels._inductor.fingerprint(),
    "logged": [record.getMessage() for record in records],
}))
"""


@pytest.mark.parametrize("how", ["missing", "changed"])
def test_without_the_private_api(how, tmp_path):
    report = _run_child(_DEGRADED_CHILD, how, "cpu", env=_child_env(tmp_path))
    assert report["opaque"] == 3
    assert report["unavailable"]
    assert report["fingerprint"] is None
    (message,) = report["logged"]
    assert "opaque to torch.compile" in message
