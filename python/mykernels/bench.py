"""``python -m mykernels.bench``: how fast the ops are on this machine, next to torch.

For each op, dtype and size it prints the time per call, the bandwidth (bytes read and written over
time), that bandwidth as a fraction of ``out.copy_(x)``'s at the same size and dtype, and the ratio
of torch eager's and torch.compile's time to mykernels' (above 1: mykernels is faster). The torch
equivalents are the ops' ``torch_equivalent`` (``mykernels.ops.OPS``): ``torch.square``,
``torch.add`` and, for d_sigmoid, the eager ``s = torch.sigmoid(z); (1 - s) * s`` (three kernels).
A second table gives the host time per call on 1024 float32 elements, where the call itself, not
memory, is the cost. ``--plot`` writes bandwidth against size as a PNG (needs matplotlib).

mykernels, torch eager and torch.compile are timed in alternation, case by case, so that their
ratios come from the same state of the machine. GPU times are medians of rounds of 20 back-to-back
calls, launched directly or replayed from a CUDA graph, whichever is faster for that function; CPU
times are medians of single calls. Compare ratios, not times taken on different days.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import mykernels

Fn = Callable[..., torch.Tensor]


# op name -> (mykernels function, torch eager equivalent, number of tensor inputs)
OPS: dict[str, tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor], int]] = {
    name: (op.function, op.torch_equivalent, op.arity) for name, op in mykernels.ops.OPS.items()
}


@dataclass
class Row:
    op: str
    layout: str
    dtype: str
    size: int
    time_us: float
    gbps: float
    of_copy: float
    vs_eager: float
    vs_compile: float | None


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
) -> list[float]:
    """Seconds per call of each fn(*args), measured in alternation so that every fn sees the same
    state of a shared, noisy machine: GPU: median over `repeats` rounds of `calls` back-to-back
    calls each; CPU: median of single calls, at least 15 rounds and 0.2 s a function."""
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
    return [statistics.median(sample) for sample in samples]


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


def bandwidth_rows(
    device: str, sizes: list[int], dtypes: list[torch.dtype], compile_: bool
) -> Iterator[Row]:
    """The bandwidth table, a row at a time."""
    compiled = {}
    cases = [(op, "contiguous") for op in OPS]
    # The strided layouts, on the first op of one input and the first of two.
    unary = next(op for op, (_, _, arity) in OPS.items() if arity == 1)
    binary = next((op for op, (_, _, arity) in OPS.items() if arity == 2), None)
    cases += [(unary, "transposed"), (unary, "sliced")]
    cases += [(binary, "broadcast")] if binary else []
    for dtype in dtypes:
        for n in sizes:
            copy_in = torch.randn(n, device=device).to(dtype)
            copy_out = torch.empty_like(copy_in)
            (copy_seconds,) = _time_side_by_side([copy_out.copy_], (copy_in,), device)
            copy_gbps = 2 * n * copy_in.element_size() / copy_seconds / 1e9
            del copy_in, copy_out
            for op, layout in cases:
                if layout != "contiguous" and n != max(sizes):
                    continue
                ours, eager, arity = OPS[op]
                inputs = _inputs(layout, n, arity, dtype, device)
                fns = [ours, eager]
                if compile_:
                    key = (op, dtype, layout)
                    if key not in compiled:
                        compiled[key] = torch.compile(eager, dynamic=True)
                    fns.append(compiled[key])
                seconds, eager_seconds, *compile_seconds = _time_side_by_side(
                    fns, tuple(inputs), device
                )
                gbps = _bytes(inputs, ours(*inputs)) / seconds / 1e9
                yield (
                    Row(
                        op=op,
                        layout=layout,
                        dtype=str(dtype).removeprefix("torch."),
                        size=n,
                        time_us=seconds * 1e6,
                        gbps=gbps,
                        of_copy=gbps / copy_gbps,
                        vs_eager=eager_seconds / seconds,
                        vs_compile=compile_seconds[0] / seconds if compile_seconds else None,
                    )
                )
            yield (
                Row(
                    "copy_",
                    "contiguous",
                    str(dtype).removeprefix("torch."),
                    n,
                    copy_seconds * 1e6,
                    copy_gbps,
                    1.0,
                    1.0,
                    None,
                )
            )


def host_time_per_call(
    fns: dict[str, Callable[[], object]], device: str, calls: int = 4000, batches: int = 5
) -> dict[str, float]:
    """Seconds per call of each fn(): batches of `calls` calls with one synchronization each,
    alternating between the functions so that all see the same drift of a shared machine; the
    median batch of each, after 200 calls of warm-up."""
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
    for _ in range(batches):
        for name, fn in fns.items():
            samples[name].append(batch(fn))
    return {name: statistics.median(times) for name, times in samples.items()}


def host_rows(device: str) -> list[dict[str, float | str]]:
    """Host time per call on 1024 float32 elements, mykernels and torch side by side."""
    inputs = [torch.randn(1024, device=device) for _ in range(max(a for _, _, a in OPS.values()))]
    rows = []
    for op, (ours, theirs, arity) in OPS.items():
        args = inputs[:arity]
        calls = {"ours": functools.partial(ours, *args), "theirs": functools.partial(theirs, *args)}
        times = host_time_per_call(calls, device)
        rows.append(
            {
                "op": op,
                "mykernels_us": times["ours"] * 1e6,
                "torch_us": times["theirs"] * 1e6,
                "ratio": times["ours"] / times["theirs"],
            }
        )
    return rows


COLUMNS = [  # header, width, format of a row
    ("op", 10, lambda r: r.op),
    ("layout", 10, lambda r: r.layout),
    ("dtype", 9, lambda r: r.dtype),
    ("size", 10, lambda r: str(r.size)),
    ("time us", 10, lambda r: f"{r.time_us:.2f}"),
    ("GB/s", 7, lambda r: f"{r.gbps:.0f}"),
    ("of copy", 8, lambda r: f"{r.of_copy:.3f}"),
    ("vs eager", 9, lambda r: f"{r.vs_eager:.2f}x"),
    ("vs compile", 10, lambda r: "" if r.vs_compile is None else f"{r.vs_compile:.2f}x"),
]


def _print_row(r: Row) -> None:
    print(" ".join(f"{cell(r):>{width}}" for _, width, cell in COLUMNS), flush=True)


def _print_host(host: list[dict]) -> None:
    print("\nhost time per call, 1024 float32 elements (mykernels / torch: below 1 is faster)")
    for h in host:
        print(
            f"{h['op']:10} mykernels {h['mykernels_us']:7.2f} us  torch {h['torch_us']:7.2f} us  "
            f"ratio {h['ratio']:.2f}"
        )


def _plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for op in ["copy_", *OPS]:
        points = sorted(
            (r.size, r.gbps)
            for r in rows
            if r.op == op and r.dtype == "float32" and r.layout == "contiguous"
        )
        if points:
            axes.plot(
                *zip(*points, strict=True),
                marker="o",
                label=op,
                linestyle="--" if op == "copy_" else "-",
            )
    axes.set_xscale("log", base=2)
    axes.set_xlabel("elements (float32)")
    axes.set_ylabel("GB/s (bytes read + written)")
    axes.set_title("mykernels bandwidth against size")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="element counts (default: 2^16 .. 2^28 on GPU, 2^16 .. 2^24 on CPU)",
    )
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16", "float16"])
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    parser.add_argument("--plot", type=Path, help="write bandwidth against size to this PNG")
    parser.add_argument("--json", type=Path, help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    device = "cuda" if args.device.startswith("cuda") else "cpu"
    sizes = args.sizes or (
        [1 << k for k in (16, 20, 24, 26, 28)]
        if device == "cuda"
        else [1 << k for k in (16, 20, 24)]
    )
    dtypes = [getattr(torch, name) for name in args.dtypes]
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"mykernels {mykernels.__version__}, torch {torch.__version__}, {name}")
    print(" ".join(f"{header:>{width}}" for header, width, _ in COLUMNS))
    rows = []
    for row in bandwidth_rows(device, sizes, dtypes, compile_=not args.no_compile):
        _print_row(row)
        rows.append(row)
    host = host_rows(device)
    _print_host(host)
    if args.json:
        args.json.write_text(
            json.dumps({"rows": [asdict(r) for r in rows], "host": host}, indent=1)
        )
    if args.plot:
        _plot(rows, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
