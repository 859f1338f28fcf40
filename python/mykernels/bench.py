"""python -m mykernels.bench: how fast the ops are on this machine, next to torch.

For each op, dtype and size, a row of the table gives:

  time us     mykernels' time per call: the median over the rounds, then its spread, half the
              interquartile range of the rounds over the median (±%)
  GB/s        the bandwidth of that median: the bytes the op must read and write, over its time
  of copy     that bandwidth over out.copy_(x)'s, at the same size and dtype (the copy_ rows)
  vs eager    torch eager's time over mykernels' (above 1: mykernels is faster), then its spread:
              half its range, from q1 / q3 to q3 / q1 of the two times' quartiles, over it
  vs compile  the same for torch.compile of the eager function, or "not compiled" where the
              timed calls did not all run a graph that Inductor compiled (why: after the table)

The torch equivalents are the ops' torch_equivalent (mykernels.ops.OPS): torch.square, torch.add
and, for d_sigmoid, the eager s = torch.sigmoid(z); (1 - s) * s (three kernels). Every op runs on
contiguous tensors; at the largest size, the first op of one input also runs on transposed and on
sliced tensors, and the first op of two inputs with a row broadcast over the other.

A marker at the end of a row says that its figures are doubtful, and a line after the table says
why:

  ?  a figure's spread exceeds 20% (the time's, a ratio's, or that of copy_, the reference of
     "of copy"): its ratios may be off by that much.
  !  the machine was busy while the row (or its copy_ reference) was timed: one of its times has
     a median at least twice its minimum, or other processes used over a quarter of the CPUs.
     Its figures measure the load, not the op: where other processes take every core, torch's
     CPU threads wait for one another a scheduler time slice per call (copy_ of 65536 elements
     then reads about 8000 us). Run again on an idle machine.

torch.compile: each case is compiled afresh (torch.compiler.reset()), with fullgraph=True and
static shapes, by Inductor, in this process (no compile workers). The tool counts the graphs
Inductor compiled for the case and the calls that ran them, after the warm-up call and again after
timing, and shows a figure only where one graph was compiled and the calls ran it.

mykernels, torch eager and torch.compile are timed in alternation, case by case, so that their
ratios come from the same state of the machine. GPU times are rounds of 20 back-to-back calls,
launched directly or replayed from a CUDA graph, whichever is faster for that function; CPU times
are single calls, at least 15 rounds and 0.2 s a function. Compare ratios, not times taken on
different days.

A second table gives the host time per call on 1024 float32 elements, where the call itself, not
memory, is the cost: the median of 21 rounds, each a batch of 1000 calls of mykernels' function
and one of torch's, and its spread; the ratio is the median of the rounds' ratios, and its
spread. --json writes both
tables, every time with the minimum, quartiles and maximum of its rounds (in us); --plot draws
bandwidth against size, one panel per dtype (needs matplotlib: pip install mykernels[bench]).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

import mykernels

Fn = Callable[..., torch.Tensor]

# op name -> (mykernels function, torch eager equivalent, number of tensor inputs)
OPS: dict[str, tuple[Fn, Fn, int]] = {
    name: (op.function, op.torch_equivalent, op.arity) for name, op in mykernels.ops.OPS.items()
}
# The dtypes mykernels computes in, by name.
DTYPES = {str(dtype).removeprefix("torch."): dtype for dtype in mykernels.ops._SUPPORTED}

SPREAD = 0.20  # ?: a figure's spread (half its quartile range, relative) above this
STALL = 2.0  # !: a time's median at least this many times its minimum
BUSY = 0.25  # !: other processes used more than this share of the CPUs during the row


@dataclass
class Timing:
    """Microseconds per call of one function over its rounds."""

    min: float
    q1: float
    median: float
    q3: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        q1, median, q3 = statistics.quantiles(seconds, n=4, method="inclusive")
        return cls(*(s * 1e6 for s in (min(seconds), q1, median, q3, max(seconds))))

    @property
    def spread(self) -> float:
        """Half the interquartile range, over the median."""
        return (self.q3 - self.q1) / 2 / self.median


def _ratio_spread(theirs: Timing, ours: Timing) -> float:
    """Half the range of theirs / ours over the quartiles (q1 / q3 to q3 / q1), over the ratio."""
    return (theirs.q3 / ours.q1 - theirs.q1 / ours.q3) / 2 / (theirs.median / ours.median)


@dataclass
class Row:
    op: str
    layout: str
    dtype: str
    size: int
    bytes: int  # the fewest the op must move: each input element read once, the output written
    time_us: Timing  # mykernels' (copy_'s on the copy_ rows)
    eager_us: Timing | None
    compile_us: Timing | None  # None: not asked for (--no-compile), or not_compiled says why
    gbps: float
    of_copy: float
    vs_eager: float | None
    vs_compile: float | None
    not_compiled: str | None = None
    # The share of the CPUs other processes used while it was timed; None: not Linux, or timed for
    # less than 0.1 s, too few of /proc/stat's clock ticks to tell (calls that stall take longer).
    others_cpu: float | None = None
    spreads: dict[str, float] = field(default_factory=dict)  # each figure's, as in the table
    wide: list[str] = field(default_factory=list)  # ?: the figures of too wide a spread
    busy: list[str] = field(default_factory=list)  # !: the signs of a busy machine

    @property
    def markers(self) -> str:
        return ("?" if self.wide else "") + ("!" if self.busy else "")


# torch.compile ------------------------------------------------------------------------------------


@dataclass
class _Compiled:
    function: Fn
    graphs: int = 0  # the graphs Inductor compiled for it
    runs: int = 0  # the calls of those graphs


def _compile(fn: Fn, autotune: bool = True) -> _Compiled:
    """fn under torch.compile with Inductor, counting the graphs compiled and the calls of them.

    torch.compile does not say what it did: where dynamo will not compile (a frame it skips, its
    recompile limit hit without fullgraph), it runs fn eagerly, and a timing of it times torch
    eager. The counts say what ran (_not_compiled reads them). They need the only private torch
    API of this module, kept here: the backend is Inductor's own entry, torch._inductor.compile
    (compile_fx, what the "inductor" backend runs), in a wrapper that counts (about 1 us a call
    on a 2-core CPU, 2% of torch.compile's own call there; nothing in a CUDA graph's replay).
    compile_threads=1 has Inductor compile in this process, so that no compile-worker processes
    (started for Triton where it is installed) compete with the timing for the cores.
    torch.compiler.reset() gives the case dynamo's cache to itself: the cache and its recompile
    limit (8) are per code object, and dynamo wraps every builtin (torch.square, torch.add) in the
    same Python function, so that all their cases would share one.

    autotune=False compiles with Inductor's pointwise autotuning off: each generated pointwise
    kernel gets Inductor's first block size, where it would otherwise time two block sizes at its
    first call and keep the faster. That timing is its own (one kernel at a time, with the cache
    flushed), so that at sizes where a kernel takes a few microseconds, which one it keeps varies
    from compile to compile; a comparison of two compiled functions with autotuning off compares
    their code, not the two picks.
    """
    torch.compiler.reset()
    compiled = _Compiled(fn)

    def inductor(graph_module: torch.fx.GraphModule, example_inputs: list) -> Callable:
        compiled.graphs += 1
        settings = {} if autotune else {"triton.autotune_pointwise": False}
        with torch._inductor.config.patch(compile_threads=1, **settings):
            graph = torch._inductor.compile(graph_module, example_inputs)

        def run(*args: object) -> object:
            compiled.runs += 1
            return graph(*args)

        return run

    compiled.function = torch.compile(fn, backend=inductor, fullgraph=True, dynamic=False)
    return compiled


def _not_compiled(compiled: _Compiled, args: tuple) -> str | None:
    """Why compiled.function(*args) does not run the one graph Inductor compiled for the case, or
    None where it does."""
    runs = compiled.runs
    try:
        compiled.function(*args)
    except Exception as error:  # whatever dynamo or Inductor raise: the message says why
        return f"torch.compile raised {type(error).__name__}: {_first_line(error)}"
    if compiled.graphs == 0:
        return "dynamo compiled no graph: the call ran eagerly"
    if compiled.graphs > 1:
        return f"dynamo recompiled it ({compiled.graphs} graphs)"
    if compiled.runs == runs:
        return "the call did not run the compiled graph: it ran eagerly"
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


# timing -------------------------------------------------------------------------------------------


def _gpu_runner(fn: Fn, args: tuple, calls: int) -> Callable[[], object]:
    """Something that runs fn(*args) `calls` times back to back on the GPU, whichever is faster of
    the calls themselves and the replay of a CUDA graph of them: a graph removes the launch gaps of
    short calls (and torch.compile's host overhead), but runs some work slower than a plain launch
    (copy_ of large tensors, as a graph memcpy node)."""
    for _ in range(3):
        fn(*args)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn(*args)
    graph.replay()

    def eager() -> None:
        for _ in range(calls):
            fn(*args)

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best: tuple[float, Callable[[], object]] | None = None
    for runner in (eager, graph.replay) * 2:
        start.record()
        runner()
        end.record()
        end.synchronize()
        if best is None or start.elapsed_time(end) < best[0]:
            best = (start.elapsed_time(end), runner)
    return best[1]


def _time_side_by_side(
    fns: list[Fn], args: tuple, device: str, calls: int = 20, repeats: int = 15
) -> list[Timing]:
    """The time per call of each fn(*args), measured in alternation so that every fn sees the
    same state of a shared, noisy machine: GPU: `repeats` rounds of `calls` back-to-back calls
    each; CPU: single calls, at least 15 rounds and 0.2 s a function."""
    samples: list[list[float]] = [[] for _ in fns]
    if device == "cuda":
        runners = [_gpu_runner(fn, args, calls) for fn in fns]
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(repeats):
            for runner, sample in zip(runners, samples, strict=True):
                start.record()
                runner()
                end.record()
                end.synchronize()
                sample.append(start.elapsed_time(end) / 1e3 / calls)
    else:
        for fn in fns:
            fn(*args)
        deadline = time.perf_counter() + 0.2 * len(fns)
        while len(samples[0]) < 15 or (time.perf_counter() < deadline and len(samples[0]) < 200):
            for fn, sample in zip(fns, samples, strict=True):
                start_s = time.perf_counter()
                fn(*args)
                sample.append(time.perf_counter() - start_s)
    return [Timing.of(sample) for sample in samples]


def _cpu_clocks() -> tuple[float, float, float] | None:
    """Seconds of wall time, of CPU time used by every process, and by this one; None where
    there is no /proc/stat (not Linux)."""
    try:
        with open("/proc/stat") as stat:  # cpu user nice system idle iowait irq softirq steal
            ticks = [int(field) for field in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    own = os.times()
    busy = sum(ticks) - ticks[3] - ticks[4]
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


def _others_cpu(before: tuple | None, after: tuple | None) -> float | None:
    """The share of the machine's CPUs that other processes used between two _cpu_clocks()."""
    if before is None or after is None or after[0] - before[0] < 0.1:  # too few clock ticks
        return None
    wall, busy, own = (a - b for a, b in zip(after, before, strict=True))
    return max(0.0, busy - own) / (wall * (os.cpu_count() or 1))


def _doubts(
    spreads: dict[str, float], timings: dict[str, Timing], others: float | None
) -> tuple[list[str], list[str]]:
    """A row's figures whose spread exceeds SPREAD (?), and the signs of a busy machine (!)."""
    wide = [f"{name} {_spread(spread)}" for name, spread in spreads.items() if spread > SPREAD]
    busy = [
        f"{name} median {t.median / t.min:.1f}x its minimum"
        for name, t in timings.items()
        if t.median >= STALL * t.min
    ]
    if others is not None and others > BUSY:
        busy.append(f"other processes used {others:.0%} of the CPUs")
    return wide, busy


# the tables ---------------------------------------------------------------------------------------


def _inputs(layout: str, n: int, arity: int, dtype: torch.dtype, device: str) -> list[torch.Tensor]:
    def fresh(shape) -> torch.Tensor:
        return torch.randn(shape, device=device, dtype=torch.float32).to(dtype)

    side = 1 << (n.bit_length() // 2)
    if layout == "transposed":
        return [fresh((n // side, side)).mT for _ in range(arity)]
    if layout == "sliced":
        return [fresh((n // side, 2 * side))[:, ::2] for _ in range(arity)]
    if layout == "broadcast":  # add: a full tensor and a row broadcast over it
        return [fresh((n // side, side)), fresh((side,))]
    return [fresh(n) for _ in range(arity)]


def _bytes(inputs: list[torch.Tensor], out: torch.Tensor) -> int:
    """Fewest bytes the op must move: each input element read once, each output written once."""
    return sum(x.numel() * x.element_size() for x in (*inputs, out))


def copy_row(n: int, dtype: torch.dtype, device: str) -> Row:
    """out.copy_(x) on n contiguous elements: the reference of the "of copy" column."""
    x = torch.randn(n, device=device).to(dtype)
    out = torch.empty_like(x)
    before = _cpu_clocks()
    (timing,) = _time_side_by_side([out.copy_], (x,), device)
    others = _others_cpu(before, _cpu_clocks())
    size = _bytes([x], out)
    spreads = {"time": timing.spread}
    wide, busy = _doubts(spreads, {"copy_": timing}, others)
    return Row(
        op="copy_",
        layout="contiguous",
        dtype=str(dtype).removeprefix("torch."),
        size=n,
        bytes=size,
        time_us=timing,
        eager_us=None,
        compile_us=None,
        gbps=size / timing.median / 1e3,
        of_copy=1.0,
        vs_eager=None,
        vs_compile=None,
        others_cpu=others,
        spreads=spreads,
        wide=wide,
        busy=busy,
    )


def case_row(
    op: str, layout: str, dtype: torch.dtype, n: int, device: str, compile_: bool, copy: Row
) -> Row:
    """One op on one layout, dtype and size: mykernels, torch eager and (compile_) torch.compile,
    timed side by side; copy is copy_'s row of the same size and dtype."""
    ours, eager, arity = OPS[op]
    args = tuple(_inputs(layout, n, arity, dtype, device))
    compiled = _compile(eager) if compile_ else None
    not_compiled = _not_compiled(compiled, args) if compiled else None  # compiles; a warm-up
    timed = compiled if compiled and not not_compiled else None
    fns = [ours, eager, *([timed.function] if timed else [])]
    runs = timed.runs if timed else 0
    before = _cpu_clocks()
    try:
        timings = _time_side_by_side(fns, args, device)
    except Exception as error:  # from dynamo while timed (a recompile, under fullgraph=True)
        if timed is None:
            raise
        not_compiled = f"raised while timed: {type(error).__name__}: {_first_line(error)}"
        timed = None
        timings = _time_side_by_side(fns[:2], args, device)
    others = _others_cpu(before, _cpu_clocks())
    if timed:  # no recompile while timed, and the timed calls ran the compiled graph
        ran = timed.runs > runs
        not_compiled = _not_compiled(timed, args) or (
            None if ran else "the timed calls did not run the compiled graph"
        )
    time_us, eager_us = timings[:2]
    compile_us = timings[2] if timed and not not_compiled else None

    size = _bytes(list(args), ours(*args))
    gbps = size / time_us.median / 1e3
    spreads = {
        "time": time_us.spread,
        "vs eager": _ratio_spread(eager_us, time_us),
        "copy_": copy.time_us.spread,
    }
    named = {"mykernels": time_us, "eager": eager_us}
    if compile_us:
        spreads["vs compile"] = _ratio_spread(compile_us, time_us)
        named["compile"] = compile_us
    wide, busy = _doubts(spreads, named, others)
    busy += [f"copy_ (of copy's reference): {reason}" for reason in copy.busy]
    return Row(
        op=op,
        layout=layout,
        dtype=str(dtype).removeprefix("torch."),
        size=n,
        bytes=size,
        time_us=time_us,
        eager_us=eager_us,
        compile_us=compile_us,
        gbps=gbps,
        of_copy=gbps / copy.gbps,
        vs_eager=eager_us.median / time_us.median,
        vs_compile=compile_us.median / time_us.median if compile_us else None,
        not_compiled=not_compiled,
        others_cpu=others,
        spreads=spreads,
        wide=wide,
        busy=busy,
    )


def bandwidth_rows(
    device: str, sizes: list[int], dtypes: list[torch.dtype], compile_: bool
) -> Iterator[Row]:
    """The bandwidth table, a row at a time."""
    cases = [(op, "contiguous") for op in OPS]
    # The strided layouts, on the first op of one input and the first of two.
    unary = next(op for op, (_, _, arity) in OPS.items() if arity == 1)
    binary = next((op for op, (_, _, arity) in OPS.items() if arity == 2), None)
    cases += [(unary, "transposed"), (unary, "sliced")]
    cases += [(binary, "broadcast")] if binary else []
    for dtype in dtypes:
        for n in sizes:
            copy = copy_row(n, dtype, device)
            for op, layout in cases:
                if layout == "contiguous" or n == max(sizes):
                    yield case_row(op, layout, dtype, n, device, compile_, copy)
            yield copy


def host_time_per_call(
    fns: dict[str, Callable[[], object]], device: str, calls: int = 1000, rounds: int = 21
) -> dict[str, list[float]]:
    """Seconds per call of each fn() in each round: a batch of `calls` calls with one
    synchronization, the functions one after the other in every round, in reverse order every
    other round (so that no function always runs first), after 200 calls of warm-up."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def batch(fn: Callable[[], object]) -> float:
        sync()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        return (time.perf_counter() - start) / calls

    for fn in fns.values():
        for _ in range(200):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns.items())
    for round_ in range(rounds):
        for name, fn in order if round_ % 2 == 0 else reversed(order):
            samples[name].append(batch(fn))
    return samples


def paired_ratio(ours: list[float], theirs: list[float]) -> tuple[float, float]:
    """The median over the rounds of each round's ratio ours / theirs, and its spread (half the
    interquartile range, over the median). The two batches of a round ran close together, so
    that a drift of a shared machine, which moves both, cancels; the ratio of the two medians
    mixes rounds far apart (on the GPU machine it read add / torch.add from 0.80 to 1.38 for one
    build: benchmarks/results/h100-call-path-two-medians.txt)."""
    ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return median, (q3 - q1) / 2 / median


def host_rows(device: str) -> list[dict[str, object]]:
    """Host time per call on 1024 float32 elements, mykernels and torch side by side."""
    inputs = [torch.randn(1024, device=device) for _ in range(max(a for _, _, a in OPS.values()))]
    rows = []
    for op, (ours, theirs, arity) in OPS.items():
        args = inputs[:arity]
        calls = {"ours": functools.partial(ours, *args), "theirs": functools.partial(theirs, *args)}
        samples = host_time_per_call(calls, device)
        ratio, spread = paired_ratio(samples["ours"], samples["theirs"])
        rows.append(
            {
                "op": op,
                "mykernels_us": asdict(Timing.of(samples["ours"])),
                "torch_us": asdict(Timing.of(samples["theirs"])),
                "ratio": ratio,
                "ratio_spread": spread,
            }
        )
    return rows


# output -------------------------------------------------------------------------------------------


def _spread(value: float | None) -> str:
    if value is None:
        return ""
    return f"±{value:.0%}" if value < 0.995 else "±>99%"


COLUMNS = [  # header, width, the cell of a row
    ("op", 10, lambda r: r.op),
    ("layout", 10, lambda r: r.layout),
    ("dtype", 8, lambda r: r.dtype),
    ("size", 9, lambda r: str(r.size)),
    ("time us", 9, lambda r: f"{r.time_us.median:.2f}"),
    ("±", 6, lambda r: _spread(r.spreads.get("time"))),
    ("GB/s", 6, lambda r: f"{r.gbps:.1f}"),
    ("of copy", 7, lambda r: f"{r.of_copy:.3f}"),
    ("vs eager", 8, lambda r: "" if r.eager_us is None else f"{r.vs_eager:.2f}x"),
    ("±", 6, lambda r: _spread(r.spreads.get("vs eager"))),
    (
        "vs compile",
        12,
        lambda r: "not compiled" if r.not_compiled else r.compile_us and f"{r.vs_compile:.2f}x",
    ),
    ("±", 6, lambda r: _spread(r.spreads.get("vs compile"))),
    ("", 2, lambda r: r.markers),
]


def format_row(row: Row) -> str:
    return " ".join(f"{cell(row) or '':>{width}}" for _, width, cell in COLUMNS).rstrip()


def _n_rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def notes(rows: list[Row]) -> list[str]:
    """The lines after the table: what its markers and "not compiled" cells mean (the JSON has
    each row's own reasons: wide, busy, not_compiled)."""
    lines = []
    wide = [row for row in rows if row.wide]
    if wide:
        worst = max(max(row.spreads.values()) for row in wide)
        lines.append(
            f"?  {_n_rows(len(wide))} with a figure's spread over {_spread(SPREAD)} (up to "
            f"{_spread(worst)}): their ratios may be off by as much"
        )
    busy = [row for row in rows if row.busy]
    if busy:
        signs = []
        others = [row.others_cpu for row in busy if row.others_cpu and row.others_cpu > BUSY]
        if others:
            signs.append(f"other processes used up to {max(others):.0%} of the CPUs")
        timings = [t for row in busy for t in (row.time_us, row.eager_us, row.compile_us) if t]
        stalls = [t.median / t.min for t in timings if t.median >= STALL * t.min]
        if stalls:
            signs.append(f"medians up to {max(stalls):.1f}x their minimum")
        lines.append(
            f"!  {_n_rows(len(busy))} timed on a busy machine ({'; '.join(signs)}): their times "
            "measure the load, not the op; run again on an idle machine"
        )
    reasons: dict[str, list[Row]] = {}
    for row in rows:
        if row.not_compiled:
            reasons.setdefault(row.not_compiled, []).append(row)
    for reason, failed in reasons.items():
        where = ", ".join(f"{r.op} {r.layout} {r.dtype} {r.size}" for r in failed)
        lines.append(f"not compiled: {where}: {reason}")
    return lines


def _print_host(host: list[dict]) -> None:
    print("\nhost time per call, 1024 float32 elements (mykernels / torch: below 1 is faster)")
    for h in host:
        ours, theirs = Timing(**h["mykernels_us"]), Timing(**h["torch_us"])
        print(
            f"{h['op']:10} mykernels {ours.median:7.2f} us {_spread(ours.spread):>5}  "
            f"torch {theirs.median:7.2f} us {_spread(theirs.spread):>5}  "
            f"ratio {h['ratio']:.2f} {_spread(h['ratio_spread']):>5}"
        )


def _device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line for line in cpuinfo if line.startswith("model name"))
        return f"{model.split(':', 1)[1].strip()} ({os.cpu_count()} CPUs)"
    except (OSError, StopIteration):
        return f"CPU ({os.cpu_count()} CPUs)"


def plot(rows: list[Row], path: Path, title: str) -> None:
    """Bandwidth against size, a panel per dtype: each op's mykernels, eager and compile (on
    contiguous tensors), and copy_."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = list(dict.fromkeys(r.dtype for r in rows))
    figure, axes = plt.subplots(
        1, len(dtypes), figsize=(5 * len(dtypes) + 1, 5), squeeze=False, sharey=True
    )
    lines = [("copy_", "copy_", "k", ":", lambda r: r.time_us)]
    for i, op in enumerate(OPS):
        lines += [
            (op, f"mykernels.{op}", f"C{i}", "-", lambda r: r.time_us),
            (op, f"{op}: torch eager", f"C{i}", "--", lambda r: r.eager_us),
            (op, f"{op}: torch.compile", f"C{i}", "-.", lambda r: r.compile_us),
        ]
    for panel, dtype in zip(axes[0], dtypes, strict=True):
        for op, label, color, style, timing in lines:
            points = sorted(
                (r.size, r.bytes / timing(r).median / 1e3)
                for r in rows
                if r.op == op and r.dtype == dtype and r.layout == "contiguous" and timing(r)
            )
            if points:
                x, y = zip(*points, strict=True)
                panel.plot(x, y, marker="o", markersize=3, label=label, color=color, ls=style)
        panel.set_xscale("log", base=2)
        panel.set_xlabel(f"elements ({dtype})")
        panel.set_title(dtype)
        panel.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("GB/s (bytes read + written, median time)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=4, fontsize="small")
    figure.suptitle(title, fontsize="medium")
    figure.tight_layout(rect=(0, 0.06 + 0.025 * (len(labels) // 4), 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


# the command --------------------------------------------------------------------------------------


def _device(text: str) -> str:
    if re.fullmatch(r"cpu|cuda(:\d+)?", text):
        return text
    raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")


def _size(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive element count, got {text!r}")
    return n


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mykernels.bench",
        description="How fast the mykernels ops are on this machine, next to torch eager and\n"
        "torch.compile: time, bandwidth and spread, then the host time per call.",
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--device",
        type=_device,
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cpu, cuda or cuda:N (default: cuda where torch sees a GPU, else cpu)",
    )
    parser.add_argument(
        "--sizes",
        type=_size,
        nargs="+",
        metavar="N",
        help="element counts (default: 2^16 2^20 2^24 2^26 2^28 on a GPU, 2^16 2^20 2^24 on the "
        "CPU); the strided layouts run at the largest",
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=list(DTYPES),
        default=["float32", "bfloat16", "float16"],
        metavar="DTYPE",
        help=f"some of {', '.join(DTYPES)} (default: float32 bfloat16 float16)",
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="leave out torch.compile (no compile time)"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="PNG",
        help="write bandwidth against size to this PNG (needs matplotlib)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="write both tables to this JSON file, with every time's quartiles, minimum and "
        "maximum",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error(
                "--plot needs matplotlib: pip install mykernels[bench] (or pip install matplotlib)"
            )
    device = args.device.split(":")[0]
    if device == "cuda":
        if not torch.cuda.is_available():
            parser.error(
                f"--device {args.device}: torch {torch.__version__} sees no CUDA GPU "
                "(torch.cuda.is_available() is False)"
            )
        if mykernels.build_info()["cuda"] is None:
            parser.error(f"--device {args.device}: this build of mykernels has no CUDA kernels")
        index = torch.device(args.device).index or 0
        if index >= torch.cuda.device_count():
            parser.error(
                f"--device {args.device}: torch sees {torch.cuda.device_count()} CUDA devices"
            )
        torch.cuda.set_device(index)
    sizes = args.sizes or [
        1 << k for k in ((16, 20, 24, 26, 28) if device == "cuda" else (16, 20, 24))
    ]
    dtypes = [DTYPES[name] for name in args.dtypes]

    name = _device_name(device)
    commit = mykernels.build_info().get("commit")  # None: built outside a git checkout, or before
    build = f"mykernels {mykernels.__version__} ({commit or 'commit unknown'})"
    title = f"{name}, torch {torch.__version__}, {build}"
    print(title)
    if device == "cpu" and hasattr(os, "getloadavg"):
        print(f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f}")
    print(" ".join(f"{header:>{width}}" for header, width, _ in COLUMNS).rstrip())
    rows = []
    for row in bandwidth_rows(device, sizes, dtypes, compile_=not args.no_compile):
        print(format_row(row), flush=True)
        rows.append(row)
    for line in notes(rows):
        print(line)
    host = host_rows(device)
    _print_host(host)
    if args.json:
        report = {
            "mykernels": mykernels.__version__,
            "commit": commit,
            "torch": torch.__version__,
            "device": name,
            "rows": [{**asdict(r), "markers": r.markers} for r in rows],
            "host": host,
            "notes": notes(rows),
        }
        args.json.write_text(json.dumps(report, indent=1))
    if args.plot:
        plot(rows, args.plot, title)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
