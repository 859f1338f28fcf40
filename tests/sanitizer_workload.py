"""The workload that compute-sanitizer checks (.ci/gpu-sanitize): every op and dtype on CUDA, at
sizes with ragged tails, on aligned, misaligned, strided and broadcast operands, and its out= and
in-place forms.

Run it under compute-sanitizer with PYTORCH_NO_CUDA_MEMORY_CACHING=1, so that every tensor is an
allocation of its own and a read past its end is caught.
"""

from __future__ import annotations

import itertools

import torch

import mykernels

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
SIZES = [1, 3, 7, 8, 9, 255, 2047, 2049, 4097, 65537]


def operands(n: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    def fresh(count: int) -> torch.Tensor:
        return torch.randn(count, device="cuda").to(dtype)

    return {
        "aligned": fresh(n),
        "misaligned": fresh(n + 1)[1:],
        "strided": fresh(2 * n)[::2],
        "broadcast": fresh(1).expand(n),
    }


def main() -> None:
    calls = 0
    for dtype in DTYPES:
        for n in SIZES:
            views = operands(n, dtype)
            for op in mykernels.ops.OPS.values():
                # Every combination of the views as the op's inputs.
                for inputs in itertools.product(views.values(), repeat=op.arity):
                    op.function(*inputs)
                    calls += 1
                # A 2-d layout where each operand has strides of its own.
                x = views["aligned"]
                rest = [fresh2d(n, dtype).mT for _ in range(op.arity - 1)]
                op.function(x.view(1, n).expand(3, n), *rest)
                calls += 1
                # out= and in place, into each layout that can be written, and out= of another
                # dtype (through a temporary).
                for layout, target in operands(n, dtype).items():
                    if layout != "broadcast":
                        op.function(*[views["misaligned"]] * op.arity, out=target)
                        op.in_place(target, *[views["strided"]] * (op.arity - 1))
                        calls += 2
                other = torch.float32 if dtype == torch.float64 else torch.float64
                op.function(
                    *[views["strided"]] * op.arity,
                    out=torch.empty(n, 2, device="cuda", dtype=other)[:, 0],
                )
                calls += 1
    torch.cuda.synchronize()
    print(f"sanitizer workload: {calls} calls")


def fresh2d(n: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(n, 3, device="cuda").to(dtype)


if __name__ == "__main__":
    main()
