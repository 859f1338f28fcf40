"""What `import mykernels` adds to `import torch`, in fresh interpreters.

    python benchmarks/import_time.py [--rounds 10]

Each round starts a fresh interpreter that times `import torch`, then `import mykernels` (already
having torch), with time.perf_counter around each import, and lists the modules of torch's compiler
and DTensor that the second import brought in (none is the contract: tests/test_build.py). Prints
each round, then the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
start = time.perf_counter()
import torch
middle = time.perf_counter()
before = set(sys.modules)
import mykernels
end = time.perf_counter()
heavy = ("torch._dynamo", "torch._inductor", "torch.distributed.tensor")
print(json.dumps({
    "torch": middle - start,
    "mykernels": end - middle,
    "compiler_modules": sorted(m for m in set(sys.modules) - before if m.startswith(heavy)),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    rounds = []
    for i in range(args.rounds):
        run = subprocess.run(
            [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, cwd="/"
        )
        rounds.append(json.loads(run.stdout.strip().splitlines()[-1]))
        r = rounds[-1]
        heavy = r["compiler_modules"]
        brought = f"{len(heavy)} ({', '.join(heavy[:2])}, ...)" if heavy else "none"
        print(
            f"round {i + 1:2}: import torch {r['torch']:.3f} s, then import mykernels "
            f"{r['mykernels']:.3f} s; modules of the compiler and DTensor it imported: {brought}"
        )
    print(
        f"median of {args.rounds}: import torch {statistics.median(r['torch'] for r in rounds):.3f}"
        f" s, import mykernels after it {statistics.median(r['mykernels'] for r in rounds):.3f} s"
    )


if __name__ == "__main__":
    main()
