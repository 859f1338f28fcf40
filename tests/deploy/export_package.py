"""Exports a program that calls the three mykernels ops and packages it with AOTInductor, for the
C++ program run_package.cpp:

    python tests/deploy/export_package.py DEVICE DIR

writes DIR/model.pt2 (the package), DIR/x.bin and DIR/y.bin (fresh random float32 inputs) and
DIR/eager.bin (the program's eager result). By default Inductor fuses the chain into one
generated kernel (mykernels' decompositions, python/mykernels/_inductor.py), and the package calls
no mykernels operator; with --operators it keeps the operators, and the process that runs the
package must have loaded the op library.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import mykernels


class Program(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return mykernels.d_sigmoid(mykernels.add(mykernels.square(x), y, alpha=0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device", help="cpu, or cuda:0")
    parser.add_argument("dir", type=Path)
    parser.add_argument(
        "--operators", action="store_true", help="keep the operators: no fusion by Inductor"
    )
    args = parser.parse_args()
    if args.operators:
        mykernels._inductor.unregister()
    args.dir.mkdir(parents=True, exist_ok=True)
    x = torch.randn(64, 37, device=args.device)
    y = torch.randn(37, device=args.device)
    program = Program()
    exported = torch.export.export(program, (x, y))
    package = torch._inductor.aoti_compile_and_package(
        exported, package_path=str(args.dir / "model.pt2")
    )
    for name, tensor in {"x": x, "y": y, "eager": program(x, y)}.items():
        tensor.cpu().numpy().tofile(args.dir / f"{name}.bin")
    print(package)


if __name__ == "__main__":
    main()
