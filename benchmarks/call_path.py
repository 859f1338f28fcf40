"""What each step of a mykernels call costs on the host, on 1024 float32 elements.

    python benchmarks/call_path.py [--device cuda]

Times per call, in 21 rounds of one batch of 1000 calls of each case with one synchronization
each, the cases in reverse order every other round (`mykernels.bench.host_time_per_call`): the
public functions; their fast path alone (mykernels._C); the ops' Python functions (the public
functions without the fast path: no binding for the interpreter, or MYKERNELS_FAST_PATH=0); the
operator called through torch.ops below the autograd layer (the path the Python functions take);
torch's own square, add and sigmoid; add's out= and in-place forms next to torch's (writing into a
given tensor, with nothing to allocate); torch.empty_like (an allocation); and an empty lambda (the
cost of the loop and the call). The medians over the rounds, then the ratios to torch's op: the
median of the rounds' ratios, each round's batches having run close together, and its spread.
"""

from __future__ import annotations

import argparse
import statistics

import torch

import mykernels
from mykernels.bench import host_time_per_call, paired_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    x = torch.randn(1024, device=args.device)
    y = torch.randn(1024, device=args.device)
    out = torch.empty_like(x)
    # Written in place by add_ at every call: its values grow by y's at each (no overflow in the
    # calls timed).
    w = torch.randn(1024, device=args.device)
    below_autograd = torch._C._AutoDispatchBelowAutograd

    def operator(op, *tensors):
        with below_autograd():
            return op(*tensors)

    ops = torch.ops.mykernels
    python = {name: op.python_function for name, op in mykernels.ops.OPS.items()}
    in_place = {name: op.in_place_python_function for name, op in mykernels.ops.OPS.items()}
    binding = mykernels._binding.module
    cases = {
        "mykernels.square": lambda: mykernels.square(x),
        "mykernels._C.square (fast path)": lambda: binding.square(x),
        "square, no fast path": lambda: python["square"](x),
        "torch.ops.mykernels.square": lambda: operator(ops.square.default, x),
        "torch.square": lambda: torch.square(x),
        "mykernels.add": lambda: mykernels.add(x, y),
        "mykernels._C.add (fast path)": lambda: binding.add(x, y, 1),
        "add, no fast path": lambda: python["add"](x, y),
        "torch.ops.mykernels.add": lambda: operator(ops.add.default, x, y),
        "torch.add": lambda: torch.add(x, y),
        "mykernels.add(out=)": lambda: mykernels.add(x, y, out=out),
        "add(out=), no fast path": lambda: python["add"](x, y, out=out),
        "torch.add(out=)": lambda: torch.add(x, y, out=out),
        "mykernels.add_": lambda: mykernels.add_(w, y),
        "add_, no fast path": lambda: in_place["add"](w, y),
        "torch.Tensor.add_": lambda: w.add_(y),
        "mykernels.d_sigmoid": lambda: mykernels.d_sigmoid(x),
        "d_sigmoid, no fast path": lambda: python["d_sigmoid"](x),
        "torch.sigmoid": lambda: torch.sigmoid(x),
        "torch.empty_like": lambda: torch.empty_like(x),
        "lambda: None": lambda: None,
    }
    if binding is None:  # the public functions are the Python functions
        cases = {name: case for name, case in cases.items() if "fast path)" not in name}
    print("fast path:", mykernels.build_info()["fast_path"])
    device = "cuda" if args.device.startswith("cuda") else "cpu"
    samples = host_time_per_call(cases, device)
    print(f"host time per call, 1024 float32 elements on {x.device} (median of the rounds)")
    for name, seconds in samples.items():
        print(f"  {name:34} {statistics.median(seconds) * 1e6:6.2f} us")
    print("ratio to torch's op (median of the rounds' ratios; below 1 is faster)")
    for ours, theirs in [
        ("mykernels.square", "torch.square"),
        ("mykernels._C.square (fast path)", "torch.square"),
        ("square, no fast path", "torch.square"),
        ("mykernels.add", "torch.add"),
        ("mykernels._C.add (fast path)", "torch.add"),
        ("add, no fast path", "torch.add"),
        ("mykernels.add(out=)", "torch.add"),
        ("torch.add(out=)", "torch.add"),
        ("mykernels.add(out=)", "torch.add(out=)"),
        ("add(out=), no fast path", "torch.add(out=)"),
        ("mykernels.add_", "torch.Tensor.add_"),
        ("add_, no fast path", "torch.Tensor.add_"),
        ("mykernels.d_sigmoid", "torch.sigmoid"),
        ("d_sigmoid, no fast path", "torch.sigmoid"),
    ]:
        if ours not in samples:
            continue
        ratio, spread = paired_ratio(samples[ours], samples[theirs])
        print(f"  {ours:34} / {theirs:14} {ratio:5.3f} ±{spread:.0%}")


if __name__ == "__main__":
    main()
