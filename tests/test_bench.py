"""python -m mykernels.bench: its command line, its torch.compile check, its notes and its plot.

No test asserts a time: the machine may be shared and noisy. Tests that need no real timing
replace it with a few calls of each function (`quick_timing`), which still runs them.
"""

from __future__ import annotations

import json
import sys

import pytest
import torch

import mykernels
from mykernels import bench

_scale = 1  # read by _rescaled, changed by _bumps


def _breaks(x: torch.Tensor) -> torch.Tensor:
    torch._dynamo.graph_break()
    return torch.square(x)


def _bumps(x: torch.Tensor) -> torch.Tensor:
    global _scale
    _scale += 1  # the next compiled call of _rescaled fails dynamo's guard on _scale
    return mykernels.square(x)


def _rescaled(x: torch.Tensor) -> torch.Tensor:
    return x * _scale


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch.compiler.reset()
    yield
    torch.compiler.reset()


@pytest.fixture
def quick_timing(monkeypatch):
    """_time_side_by_side on three calls of each function: fast, and the calls still happen."""

    def time_side_by_side(fns, args, device):
        timings = []
        for fn in fns:
            for _ in range(3):
                fn(*args)
            timings.append(bench.Timing.of([1e-6, 1e-6, 1e-6]))
        return timings

    monkeypatch.setattr(bench, "_time_side_by_side", time_side_by_side)


@pytest.fixture
def fake_inductor(monkeypatch):
    """Inductor replaced by the graph itself: dynamo's part of torch.compile, without a C++ compiler."""
    monkeypatch.setattr(
        torch._inductor, "compile", lambda graph_module, example_inputs: graph_module.forward
    )


def _copy_row() -> bench.Row:
    return bench.copy_row(1024, torch.float32, "cpu")


# the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device", "gpu"], "argument --device: expected cpu, cuda or cuda:N, got 'gpu'"),
        (["--device", "cuda:"], "argument --device: expected cpu, cuda or cuda:N, got 'cuda:'"),
        (["--dtypes", "int8"], "argument --dtypes: invalid choice: 'int8'"),
        (["--dtypes", "float32", "complex64"], "argument --dtypes: invalid choice: 'complex64'"),
        (["--sizes", "0"], "argument --sizes: expected a positive element count, got '0'"),
        (
            ["--sizes", "1024", "-5"],
            "argument --sizes: expected a positive element count, got '-5'",
        ),
        (["--sizes", "1e3"], "argument --sizes: expected a positive element count, got '1e3'"),
    ],
)
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where torch sees no GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu(device, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--device", device])
    assert exit_.value.code == 2
    assert (
        f"--device {device}: torch {torch.__version__} sees no CUDA GPU" in capsys.readouterr().err
    )


def test_plot_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--plot", "bandwidth.png"])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert (
        "--plot needs matplotlib: pip install mykernels[bench] (or pip install matplotlib)"
        in captured.err
    )
    assert captured.out == ""  # before any timing


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: python -m mykernels.bench")
    assert "vs compile" in text  # the columns and markers, from the module's docstring
    assert all(action.help for action in bench._parser()._actions)


# torch.compile -----------------------------------------------------------------------------------


def test_compile_figure():
    """A case that Inductor compiles gets a compile figure (a real compile: a C++ compiler runs)."""
    row = bench.case_row("square", "contiguous", torch.float32, 1024, "cpu", True, _copy_row())
    assert row.not_compiled is None
    assert row.compile_us is not None
    assert row.vs_compile > 0
    assert f"{row.vs_compile:.2f}x" in bench.format_row(row)


def _assert_refused(row: bench.Row, reason: str) -> None:
    assert row.compile_us is None
    assert row.vs_compile is None
    assert reason in row.not_compiled
    assert "not compiled" in bench.format_row(row)
    assert f"not compiled: {row.op} contiguous float32 1024: {row.not_compiled}" in bench.notes(
        [row]
    )


def test_graph_break_is_refused(monkeypatch):
    monkeypatch.setitem(bench.OPS, "breaks", (mykernels.square, _breaks, 1))
    row = bench.case_row("breaks", "contiguous", torch.float32, 1024, "cpu", True, _copy_row())
    _assert_refused(row, "torch.compile raised")


def test_eager_fallback_is_refused(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, **options: fn)  # as dynamo skipping the frame
    row = bench.case_row("square", "contiguous", torch.float32, 1024, "cpu", True, _copy_row())
    _assert_refused(row, "dynamo compiled no graph: the call ran eagerly")


@pytest.mark.usefixtures("fake_inductor")
@pytest.mark.parametrize(("limit", "reason"), [(1000, "dynamo recompiled it"), (2, "")])
def test_recompile_while_timed_is_refused(monkeypatch, limit, reason):
    """Every call of mykernels' function here changes what the compiled one depends on: every
    compiled call recompiles; under a small recompile limit, dynamo raises (torch 2.13), or runs
    the function eagerly (a refusal all the same)."""
    monkeypatch.setitem(bench.OPS, "bumps", (_bumps, _rescaled, 1))
    with torch._dynamo.config.patch(recompile_limit=limit):
        row = bench.case_row("bumps", "contiguous", torch.float32, 1024, "cpu", True, _copy_row())
    _assert_refused(row, reason)


@pytest.mark.usefixtures("quick_timing")
def test_refusal_in_table_and_json(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "OPS", {"breaks": (mykernels.square, _breaks, 1)})
    path = tmp_path / "bench.json"
    bench.main(["--device", "cpu", "--sizes", "1024", "--dtypes", "float32", "--json", str(path)])
    out = capsys.readouterr().out
    table = out.split("\n\n")[0]  # then the host times
    rows = [line for line in table.splitlines() if line.lstrip().startswith("breaks")]
    assert len(rows) == 3  # contiguous, transposed, sliced
    assert all("not compiled" in line for line in rows)
    assert "not compiled: breaks contiguous float32 1024, breaks transposed float32 1024, " in out
    report = json.loads(path.read_text())
    compiled = [row for row in report["rows"] if row["op"] == "breaks"]
    assert all(row["compile_us"] is None and row["vs_compile"] is None for row in compiled)
    assert all(row["not_compiled"].startswith("torch.compile raised") for row in compiled)


# spread, markers, JSON and plot ------------------------------------------------------------------


def test_timing_quartiles():
    timing = bench.Timing.of([5e-6, 1e-6, 2e-6, 4e-6, 3e-6])
    assert (timing.min, timing.q1, timing.median, timing.q3, timing.max) == pytest.approx(
        (1, 2, 3, 4, 5)
    )
    assert timing.spread == pytest.approx(1 / 3)


def test_markers():
    steady = bench.Timing(10, 10, 10, 10, 10)
    assert bench._doubts({"time": 0.05}, {"mykernels": steady}, 0.0) == ([], [])
    wide, busy = bench._doubts(
        {"time": 0.3}, {"mykernels": bench.Timing(4, 7990, 7995, 8000, 9000)}, 0.6
    )
    assert wide == ["time ±30%"]
    assert busy == ["mykernels median 1998.8x its minimum", "other processes used 60% of the CPUs"]


def test_stall_is_flagged(monkeypatch):
    """What was seen on a 2-core CPU whose cores other processes took: every call of every
    function about 8000 us (median near the minimum), copy_ included."""

    def stalled(fns, args, device):
        for fn in fns:
            fn(*args)
        return [bench.Timing(7950, 7990, 7995, 8000, 8100) for _ in fns]

    monkeypatch.setattr(bench, "_time_side_by_side", stalled)
    monkeypatch.setattr(bench, "_others_cpu", lambda before, after: 0.62)
    copy = _copy_row()
    row = bench.case_row("square", "contiguous", torch.float32, 1024, "cpu", False, copy)
    assert copy.busy == ["other processes used 62% of the CPUs"]
    assert "copy_ (of copy's reference): other processes used 62% of the CPUs" in row.busy
    assert bench.format_row(copy).endswith("!")
    assert bench.format_row(row).endswith("!")
    assert bench.notes([row, copy]) == [
        "!  2 rows timed on a busy machine (other processes used up to 62% of the CPUs): their times measure the load, not the op; run again on an idle machine"
    ]


@pytest.mark.usefixtures("quick_timing", "fake_inductor")
def test_json_and_plot(monkeypatch, tmp_path, capsys):
    Figure = pytest.importorskip("matplotlib.figure").Figure
    figures = []
    savefig = Figure.savefig

    def spy(figure, *args, **kwargs):
        figures.append(figure)
        return savefig(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    png, report = tmp_path / "bench.png", tmp_path / "bench.json"
    argv = ["--device", "cpu", "--sizes", "256", "1024", "--dtypes", "float32", "float16"]
    bench.main([*argv, "--plot", str(png), "--json", str(report)])
    assert png.stat().st_size > 0
    (figure,) = figures
    title = figure.get_suptitle()
    assert f"torch {torch.__version__}" in title
    assert f"({mykernels.build_info().get('commit') or 'commit unknown'})" in title
    assert [axes.get_title() for axes in figure.axes] == ["float32", "float16"]
    labels = {line.get_label() for line in figure.axes[0].get_lines()}
    for op in mykernels.ops.OPS:
        assert {f"mykernels.{op}", f"{op}: torch eager", f"{op}: torch.compile"} <= labels
    assert "copy_" in labels

    rows = json.loads(report.read_text())["rows"]
    assert {(row["dtype"], row["size"]) for row in rows} == {
        (d, n) for d in ("float32", "float16") for n in (256, 1024)
    }
    for row in rows:
        timing = row["time_us"]
        assert timing["min"] <= timing["q1"] <= timing["median"] <= timing["q3"] <= timing["max"]
        assert (row["eager_us"] is None) == (row["op"] == "copy_")
        assert (row["compile_us"] is None) == (row["op"] == "copy_")
