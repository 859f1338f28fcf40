"""What each of torch's functions that the eager fast path asks costs on this host, from Python.

    python benchmarks/guard_costs.py [--device cuda]

The fast path (cpp/binding/fast_path.cpp) calls these for every call it takes: per input
`Tensor.requires_grad` and `Tensor.is_neg()` (torch's generated method, which releases and retakes
the GIL), then `_is_torch_function_mode_enabled`, `_is_any_autocast_enabled`, `_is_tracing` (a
pybind11 function) and `_len_torch_dispatch_stack`. Times per call in 21 rounds of 1000 calls
(`mykernels.bench.host_time_per_call`), next to torch.add and mykernels.add for scale, each called
from a lambda; "net" is over an empty lambda. A call from Python costs more than the fast path's
call from C, so the net times bound each guard's cost from above; their differences are what
compares.
"""

from __future__ import annotations

import argparse
import statistics

import torch

import mykernels
from mykernels.bench import host_time_per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    x = torch.randn(1024, device=args.device)
    y = torch.randn(1024, device=args.device)
    C = torch._C
    is_neg = C.TensorBase.is_neg
    cases = {
        "torch.add": lambda: torch.add(x, y),
        "mykernels.add": lambda: mykernels.add(x, y),
        "Tensor.is_neg()": lambda: is_neg(x),
        "Tensor.requires_grad": lambda: x.requires_grad,
        "torch._C._is_tracing": lambda: C._is_tracing(),
        "torch._C._is_any_autocast_enabled": lambda: C._is_any_autocast_enabled(),
        "torch._C._len_torch_dispatch_stack": lambda: C._len_torch_dispatch_stack(),
        "torch._C._is_torch_function_mode_enabled": lambda: C._is_torch_function_mode_enabled(),
        "lambda: None": lambda: None,
    }
    device = "cuda" if args.device.startswith("cuda") else "cpu"
    samples = host_time_per_call(cases, device)
    base = statistics.median(samples["lambda: None"])
    print(f"host time per call on {x.device} (median of the rounds)")
    for name, seconds in samples.items():
        median = statistics.median(seconds)
        print(f"  {name:42} {median * 1e9:8.1f} ns   net {(median - base) * 1e9:8.1f} ns")


if __name__ == "__main__":
    main()
