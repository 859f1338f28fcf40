"""The ops on DTensors (torch.distributed.tensor) over two processes, gloo on the CPU and NCCL on
two GPUs: for inputs sharded, replicated or partial, each op's result and gradients equal the op's
on the full tensors, and its result has the placements torch gives the matching torch op. The
strategies come from `import mykernels` alone (mykernels._dtensor, once the program imports
DTensor); where torch lacks what that module needs, it registers nothing, says so once, and raises
nothing."""

from __future__ import annotations

import datetime
import importlib.util
import logging
import os
import socket
import sys
import traceback
from dataclasses import dataclass

import pytest
import torch
import torch.distributed as dist

import mykernels
from helpers import TABLE, assert_matches, random, requires_two_gpus

requires_dtensor = pytest.mark.skipif(
    not dist.is_available(), reason="this torch has no torch.distributed"
)
requires_gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="this torch has no torch.distributed or no gloo",
)

# Placements by name: S0 and S1 shard a dimension, R replicates, P is a Partial sum (each rank
# holds half of the tensor, which is exact) and Pmax a Partial max (rank 0 holds the tensor, rank 1
# a smaller one). Partial max is checked for values only: torch's placements for it are those of
# the torch op (torch.sigmoid, an increasing function, keeps a Partial max), which need not be
# mykernels' (d_sigmoid is not increasing).
PLACEMENTS = ["S0", "S1", "R", "P", "Pmax"]


@dataclass(frozen=True)
class Case:
    op: str
    placements: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...] = ((6, 4),)
    dtypes: tuple[torch.dtype, ...] = (torch.float32,)

    def __str__(self) -> str:
        inputs = ", ".join(
            f"{p} {tuple(s)} {str(d).removeprefix('torch.')}"
            for p, s, d in zip(self.placements, self.shapes, self.dtypes, strict=True)
        )
        return f"{self.op}({inputs})"


def _cases() -> list[Case]:
    cases = [Case(name, (p,)) for name in ("square", "d_sigmoid") for p in PLACEMENTS]
    # add: every pair for equal shapes; broadcast against a row (a 1-D tensor, which has no dim 1)
    # and against a column; and type promotion.
    for shape_b, placements_b in (
        ((6, 4), PLACEMENTS),
        ((4,), ["S0", "R", "P", "Pmax"]),
        ((6, 1), ["S0", "S1", "R", "P"]),
    ):
        cases += [
            Case("add", (a, b), ((6, 4), shape_b), (torch.float32,) * 2)
            for a in PLACEMENTS
            for b in placements_b
        ]
    cases += [
        Case("add", pair, ((6, 4), (6, 4)), (torch.float32, dtype_b))
        for dtype_b in (torch.float16, torch.bfloat16, torch.float64)
        for pair in (("S0", "S0"), ("P", "P"), ("S1", "R"), ("R", "P"), ("P", "S0"))
    ]
    return cases


def _distribute(full: torch.Tensor, placement: str, mesh):
    """A DTensor whose full tensor is `full` (a leaf)."""
    from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor

    if placement == "P":
        return DTensor.from_local(full / 2, mesh, [Partial()], run_check=False)
    if placement == "Pmax":
        local = full if dist.get_rank() == 0 else full - 1
        return DTensor.from_local(local, mesh, [Partial("max")], run_check=False)
    placements = {"S0": [Shard(0)], "S1": [Shard(1)], "R": [Replicate()]}[placement]
    return distribute_tensor(full, mesh, placements, src_data_rank=None)


# mykernels' error where DTensor would turn a Partial input into a Partial of another reduction.
_REFUSED = "cannot do correctly"


def _assert_raises_as(expected: Exception, fn, *args) -> None:
    """fn(*args) raises what torch raised (its type and its first line), or mykernels' refusal."""
    try:
        fn(*args)
    except RuntimeError as error:
        if _REFUSED in str(error):
            return
        raised = error
    except Exception as error:  # compared with torch's error below
        raised = error
    else:
        raise AssertionError(f"no error where torch raised {expected!r}")
    assert isinstance(raised, type(expected)), (raised, expected)
    assert str(expected).splitlines()[0] in str(raised), (raised, expected)


def _check(case: Case, mesh, device: str) -> None:
    op = TABLE[case.op]
    fulls = [
        random(shape, dtype, scale=op.scale).to(device)
        for shape, dtype in zip(case.shapes, case.dtypes, strict=True)
    ]
    inputs = [
        _distribute(full, p, mesh).requires_grad_()
        for full, p in zip(fulls, case.placements, strict=True)
    ]
    expected = op.reference(*(x.double() for x in fulls))
    dtype = op.like(*fulls).dtype

    # Forward, through the public function and through the operator. Where torch cannot run its
    # op on these placements (torch 2.11 has no redistribution from a Partial max to a Partial
    # sum), the mykernels op raises too: the same error, or mykernels' own for that
    # redistribution. Where torch's op returns a result other than on the full tensors (torch
    # 2.10 makes that redistribution without reducing: the only case known), the mykernels op
    # returns the right result or raises mykernels' error: never torch's wrong one.
    with torch.no_grad():
        try:
            theirs = op.like(*inputs, **op.kwargs)
            full = theirs.full_tensor()
            torch_error = None
            try:  # against torch's op on the full tensors: DTensor's placements, not its math
                assert_matches(full, op.like(*fulls, **op.kwargs).double(), dtype)
            except AssertionError as wrong:
                torch_error = wrong
        except Exception as error:
            torch_error = error
        if isinstance(torch_error, AssertionError):
            assert {"P", "Pmax"} <= set(case.placements), (
                f"torch's DTensor result differs from its op on the full tensors: {torch_error}"
            )
            for fn in (op.fn, op.operator):
                try:
                    result = fn(*inputs)
                except RuntimeError as error:
                    if _REFUSED not in str(error):
                        raise
                else:
                    assert_matches(result.full_tensor(), expected, dtype)
            return
        if torch_error is not None:
            for fn in (op.fn, op.operator):
                _assert_raises_as(torch_error, fn, *inputs)
            return
        for result in (op.fn(*inputs), op.operator(*inputs)):
            assert result.shape == theirs.shape
            if "Pmax" not in case.placements:
                assert result.placements == theirs.placements, (
                    f"placements {result.placements}, torch's {theirs.placements}"
                )
            assert_matches(result.full_tensor(), expected, dtype)

    # Backward: the gradients of sum(result * weight).
    weight = random(expected.shape, dtype).to(device)
    (op.fn(*inputs).full_tensor() * weight).sum().backward()
    references = [x.double().requires_grad_() for x in fulls]
    (op.reference(*references) * weight.double()).sum().backward()
    # torch's default tolerances, as test_add's gradient test: a broadcast input's gradient is a
    # sum, in its dtype.
    for x, reference in zip(inputs, references, strict=True):
        torch.testing.assert_close(x.grad.full_tensor(), reference.grad.to(x.dtype))


def _write_cases() -> list[Case]:
    cases = [Case(name, (p,)) for name in ("square", "d_sigmoid") for p in ("S0", "S1", "R", "P")]
    cases += [
        Case("add", (a, b), ((6, 4), (6, 4)), (torch.float32,) * 2)
        for a in ("S0", "S1", "R", "P")
        for b in ("S0", "R", "P")
    ]
    return cases


def _check_write(case: Case, mesh, device: str) -> None:
    """out= and in-place on DTensors, next to torch's forms of the op each follows: where torch
    writes, the same placements and the op's values; where torch refuses, its error, or, for an
    in-place call, the op's values in the input's own placements (mykernels writes the op's result
    through DTensor's copy_, which keeps them, where torch refuses to change them)."""
    op = TABLE[case.op]
    fulls = [
        random(shape, dtype, scale=op.scale).to(device)
        for shape, dtype in zip(case.shapes, case.dtypes, strict=True)
    ]
    expected = op.reference(*(x.double() for x in fulls))

    def placed():
        return [
            _distribute(f.clone(), p, mesh) for f, p in zip(fulls, case.placements, strict=True)
        ]

    def out_like(inputs):
        # torch's out= result takes out's placements where it can: out as the first input, or
        # replicated where that is a Partial.
        placement = "R" if case.placements[0] == "P" else case.placements[0]
        return _distribute(torch.empty(case.shapes[0], device=device), placement, mesh)

    torch_in_place = getattr(torch.Tensor, f"{op.like.__name__}_")
    forms = {
        "in-place": (
            lambda xs: torch_in_place(*xs, **op.kwargs),
            lambda xs: getattr(mykernels, f"{op.name}_")(*xs, **op.kwargs),
            lambda xs: xs[0],
        ),
        "out=": (
            lambda xs: op.like(*xs[:-1], out=xs[-1], **op.kwargs),
            lambda xs: getattr(mykernels, op.name)(*xs[:-1], out=xs[-1], **op.kwargs),
            lambda xs: xs[-1],
        ),
    }
    with torch.no_grad():
        for form, (theirs, ours, written) in forms.items():
            args = placed()
            if form == "out=":
                args.append(out_like(args))
            original = written(args).placements
            try:
                torch_placements = theirs(args).placements
                torch_error = None
            except Exception as error:
                torch_error = error
            args = placed()
            if form == "out=":
                args.append(out_like(args))
            if torch_error is not None and form == "out=":
                _assert_raises_as(torch_error, ours, args)
                continue
            try:
                result = ours(args)
            except Exception:
                if torch_error is None:
                    raise
                _assert_raises_as(torch_error, ours, placed())
                continue
            assert result is written(args)
            wanted = original if torch_error is not None else torch_placements
            assert result.placements == wanted, (form, result.placements, wanted)
            assert_matches(result.full_tensor(), expected, torch.float32)


def _worker(rank: int, port: int, backend: str, device_type: str, seed: int) -> None:
    # NVLink multicast stays off: it can take a shared host's GPUs out of service.
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), NCCL_NVLS_ENABLE="0")
    device = "cpu"
    options = {}
    if device_type == "cuda":
        torch.cuda.set_device(rank)
        device = f"cuda:{rank}"
        options["device_id"] = torch.device(device)
    dist.init_process_group(
        backend, rank=rank, world_size=2, timeout=datetime.timedelta(seconds=60), **options
    )
    try:
        from torch.distributed.device_mesh import init_device_mesh

        # The ops' sharding strategies come with `import mykernels` (by helpers) and nothing else.
        mesh = init_device_mesh(device_type, (2,))
        torch.manual_seed(seed)  # the same full tensors on both ranks
        failures = []
        for case in _cases():
            try:
                _check(case, mesh, device)
            except Exception:  # both ranks fail alike: every check compares full tensors
                failures.append(f"{case}:\n{traceback.format_exc(limit=-3)}")
        for case in _write_cases():
            try:
                _check_write(case, mesh, device)
            except Exception:
                failures.append(f"{case} (out= and in-place):\n{traceback.format_exc(limit=-3)}")
        if failures:
            raise AssertionError(
                f"{len(failures)} of {len(_cases()) + len(_write_cases())} cases failed:\n"
                + "\n".join(failures)
            )
    finally:
        dist.destroy_process_group()
    if backend == "gloo":
        # Every check passed. With gloo, torch itself aborts now and then at interpreter exit, after
        # destroy_process_group ("terminate called without an active exception": 3 runs of 15
        # of a two-rank script with torch's own ops and no mykernels, torch 2.13 on CPU), so the
        # worker leaves without finalizing; a failure above still exits through torch's spawn.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@pytest.mark.parametrize(
    ("backend", "device_type"),
    [
        pytest.param("gloo", "cpu", marks=requires_gloo, id="gloo-cpu"),
        pytest.param("nccl", "cuda", marks=requires_two_gpus, id="nccl-cuda"),
    ],
)
def test_ops_on_dtensors(backend, device_type):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seed = torch.initial_seed()  # the test's seed (conftest.py), for a rerun that fails alike
    torch.multiprocessing.spawn(
        _worker, args=(port, backend, device_type, seed), nprocs=2, join=True
    )


def _fresh_dtensor_module():
    """A copy of mykernels._dtensor with a state of its own: what a test turns off there stays on
    in mykernels."""
    import mykernels._dtensor

    spec = importlib.util.spec_from_file_location("_dtensor_copy", mykernels._dtensor.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_register_without_torch_distributed(monkeypatch, caplog):
    # Nothing registered, no error, and one message for all the ops.
    dtensor = _fresh_dtensor_module()
    monkeypatch.setattr(torch.distributed, "is_available", lambda: False)
    with caplog.at_level(logging.DEBUG, logger="mykernels"):
        dtensor.register(torch.ops.mykernels.square.default, torch.ops.aten.square.default)
        dtensor.register(torch.ops.mykernels.add.default, torch.ops.aten.add.Tensor)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "no torch.distributed" in caplog.records[0].getMessage()


@requires_dtensor
def test_register_without_dtensor_private_api(monkeypatch, caplog):
    # torch.distributed.tensor as a torch without the sharding propagator would have it.
    from torch.distributed.tensor import DTensor

    dtensor = _fresh_dtensor_module()
    monkeypatch.setattr(DTensor, "_op_dispatcher", object())
    with caplog.at_level(logging.DEBUG, logger="mykernels"):
        dtensor.register(torch.ops.mykernels.square.default, torch.ops.aten.square.default)
        dtensor.register(torch.ops.mykernels.add.default, torch.ops.aten.add.Tensor)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "sharding_propagator" in caplog.records[0].getMessage()


def test_register_refuses_an_op_of_another_schema():
    dtensor = _fresh_dtensor_module()
    with pytest.raises(
        ValueError,
        match=r"mykernels::square cannot have the sharding strategy of aten\.add\.Tensor",
    ):
        dtensor.register(torch.ops.mykernels.square.default, torch.ops.aten.add.Tensor)
