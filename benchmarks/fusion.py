"""python benchmarks/fusion.py: mykernels under torch.compile, next to the same functions written
with torch's ops and compiled, and to mykernels eager.

Each case is a function of x and y written once over an op namespace, then built twice: with the
mykernels functions and with their torch equivalents (mykernels.ops.OPS: torch.square, torch.add
and s = torch.sigmoid(z); (1 - s) * s for d_sigmoid):

  chain      square(d_sigmoid(add(x, y, alpha=0.5)))
  square     square(x)
  add        add(x, y, alpha=0.5)
  d_sigmoid  d_sigmoid(x)
  mixed      torch.relu(square(x) - y) * d_sigmoid(y): mykernels ops among torch's

Columns: the time per call of mykernels eager, of the mykernels function under torch.compile and
of the torch function under torch.compile, each with its spread, and "vs best": the better of
mykernels eager and torch compiled over mykernels compiled (1.00: as fast as the better one;
below 1 slower). Compilation and timing are mykernels.bench's: each function compiled afresh with
Inductor, fullgraph=True and static shapes, a figure only where the timed calls ran the graph
Inductor compiled ("not compiled" and why otherwise), the three timed in alternation.

Both compiled functions are compiled with Inductor's pointwise autotuning off (mykernels.bench's
_compile says why), so that the table compares the code of the two, not two picks of a block size
that vary from compile to compile. --autotune compiles them as torch.compile does by default.
"""

from __future__ import annotations

import argparse
import types

import torch

import mykernels
from mykernels import bench

CASES = {
    "chain": lambda ops, x, y: ops.square(ops.d_sigmoid(ops.add(x, y, alpha=0.5))),
    "square": lambda ops, x, y: ops.square(x),
    "add": lambda ops, x, y: ops.add(x, y, alpha=0.5),
    "d_sigmoid": lambda ops, x, y: ops.d_sigmoid(x),
    "mixed": lambda ops, x, y: torch.relu(ops.square(x) - y) * ops.d_sigmoid(y),
}
MYKERNELS = types.SimpleNamespace(**{n: op.function for n, op in mykernels.ops.OPS.items()})
TORCH = types.SimpleNamespace(**{n: op.torch_equivalent for n, op in mykernels.ops.OPS.items()})


def _built(case: str, ops: types.SimpleNamespace):
    def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return CASES[case](ops, x, y)

    fn.__name__ = case
    return fn


def row(
    case: str, dtype: torch.dtype, n: int, device: str, autotune: bool = False
) -> dict[str, object]:
    x, y = (torch.randn(n, device=device).to(dtype) for _ in range(2))
    eager = _built(case, MYKERNELS)
    ours = bench._compile(_built(case, MYKERNELS), autotune)
    theirs = bench._compile(_built(case, TORCH), autotune)
    reasons = {
        "mykernels": bench._not_compiled(ours, (x, y)),
        "torch": bench._not_compiled(theirs, (x, y)),
    }
    fns = [eager, ours.function, theirs.function]
    runs = (ours.runs, theirs.runs)
    eager_us, ours_us, theirs_us = bench._time_side_by_side(fns, (x, y), device)
    for name, compiled, before in zip(reasons, (ours, theirs), runs, strict=True):
        if reasons[name] is None and compiled.runs == before:
            reasons[name] = "the timed calls did not run the compiled graph"
    result = {
        "case": case,
        "dtype": str(dtype).removeprefix("torch."),
        "size": n,
        "eager_us": eager_us,
        "compiled_us": None if reasons["mykernels"] else ours_us,
        "torch_compiled_us": None if reasons["torch"] else theirs_us,
        "not_compiled": {k: v for k, v in reasons.items() if v},
    }
    if not reasons["mykernels"] and not reasons["torch"]:
        best = min(eager_us.median, theirs_us.median)
        result["vs_best"] = best / ours_us.median
    return result


def _cell(timing: bench.Timing | None) -> str:
    if timing is None:
        return f"{'not compiled':>18}"
    return f"{timing.median:10.1f} {bench._spread(timing.spread):>7}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/fusion.py",
        description=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--device", type=bench._device, default="cuda")
    parser.add_argument(
        "--sizes", type=bench._size, nargs="+", default=[1 << 20, 1 << 26], metavar="N"
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=list(bench.DTYPES),
        default=["float32", "bfloat16", "float16"],
        metavar="DTYPE",
    )
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument(
        "--autotune",
        action="store_true",
        help="compile with Inductor's pointwise autotuning on, as torch.compile does by default",
    )
    args = parser.parse_args(argv)
    device = args.device.split(":")[0]
    if device == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA GPU")
    commit = mykernels.build_info().get("commit")
    print(
        f"{bench._device_name(device)}, torch {torch.__version__}, "
        f"mykernels {mykernels.__version__} ({commit or 'commit unknown'}), "
        f"pointwise autotuning {'on' if args.autotune else 'off'}"
    )
    print(
        f"{'case':10} {'dtype':8} {'size':>9} {'mykernels eager us':>18} "
        f"{'mykernels compiled':>18} {'torch compiled':>18} {'vs best':>8}"
    )
    reasons = []
    for dtype in (bench.DTYPES[name] for name in args.dtypes):
        for n in args.sizes:
            for case in args.cases:
                r = row(case, dtype, n, device, args.autotune)
                vs_best = f"{r['vs_best']:.3f}x" if "vs_best" in r else ""
                print(
                    f"{case:10} {r['dtype']:8} {n:9} {_cell(r['eager_us'])} "
                    f"{_cell(r['compiled_us'])} {_cell(r['torch_compiled_us'])} {vs_best:>8}",
                    flush=True,
                )
                reasons += [
                    f"{case} {r['dtype']} {n}, {k}: {v}" for k, v in r["not_compiled"].items()
                ]
    for line in reasons:
        print(f"not compiled: {line}")


if __name__ == "__main__":
    main()
