"""How long mykernels takes to build, next to the usual way of building one torch op.

    python benchmarks/build_time.py [--arch 90] [--cpu-only] [--against REV]

Times, in one run on one machine:
- a clean build of the whole package (all ops, all dtypes, CPU and CUDA) for one architecture;
- its rebuild after touching the .cu file that holds the kernels (instantiate.cu, compiled once
  per dtype and launcher), through pip and through `cmake --build` alone, and after touching the
  launchers' dispatch (launch.cu) through `cmake --build`;
- torch.utils.cpp_extension.load() of a single square op written the naive way (one .cu that
  includes torch/extension.h), for the same architecture;
- the same op split into a torch-free .cu and a binding .cpp with minimal headers.
With --cpu-only: the clean CPU-only build of the package alone. With --against REV: the same
clean build of the package at git revision REV first, in the same run (before and after).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NAIVE_CU = r"""
#include <torch/extension.h>

__global__ void square_kernel(const float* x, float* out, int64_t n) {
  int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) out[i] = x[i] * x[i];
}

torch::Tensor square(torch::Tensor x) {
  auto out = torch::empty_like(x);
  int64_t n = x.numel();
  square_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), out.data_ptr<float>(), n);
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("square", &square); }
"""

SPLIT_CU = r"""
#include <cstdint>
#include <cuda_runtime.h>

__global__ void square_kernel(const float* x, float* out, int64_t n) {
  int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) out[i] = x[i] * x[i];
}

void launch_square(const float* x, float* out, int64_t n, cudaStream_t stream) {
  square_kernel<<<(n + 255) / 256, 256, 0, stream>>>(x, out, n);
}
"""

SPLIT_CPP = r"""
#include <ATen/Tensor.h>
#include <ATen/Functions.h>
#include <torch/csrc/utils/pybind.h>
#include <cuda_runtime.h>

void launch_square(const float* x, float* out, int64_t n, cudaStream_t stream);

at::Tensor square(const at::Tensor& x) {
  at::Tensor out = at::empty_like(x);
  launch_square(x.data_ptr<float>(), out.data_ptr<float>(), x.numel(), nullptr);
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("square", &square); }
"""


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def build_package(build_dir: Path, env: dict[str, str], root: Path = ROOT) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q",
         "-w", str(build_dir / "dist"), "-C", f"build-dir={build_dir / 'build'}", str(root)],
        check=True, env=env, cwd=root,
    )  # fmt: skip


def checkout(revision: str, work: Path) -> Path:
    """The tree of `revision`, unpacked under `work`."""
    tree = work / f"tree-{revision}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision], check=True, capture_output=True, cwd=ROOT
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def cpp_extension(name: str, sources: dict[str, str], work: Path) -> None:
    from torch.utils import cpp_extension

    folder = work / name
    folder.mkdir()
    paths = []
    for filename, text in sources.items():
        (folder / filename).write_text(text)
        paths.append(str(folder / filename))
    cpp_extension.load(name, paths, build_directory=str(folder), verbose=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="90", help="the one CUDA architecture, e.g. 90")
    parser.add_argument("--cpu-only", action="store_true", help="time the CPU-only build only")
    parser.add_argument("--against", metavar="REV", help="also time the clean build of REV, first")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mykernels-build-time-"))
    env = dict(os.environ)
    results: list[tuple[str, float]] = []
    try:
        if args.cpu_only:
            env["MYKERNELS_CUDA"] = "OFF"
            kind = "clean CPU-only build"
        else:
            major, minor = args.arch[:-1], args.arch[-1]
            env.update(MYKERNELS_CUDA="ON", MYKERNELS_CUDA_ARCHITECTURES=f"{args.arch}-real")
            os.environ["TORCH_CUDA_ARCH_LIST"] = f"{major}.{minor}"  # for cpp_extension.load
            kind = f"clean build (CPU + CUDA, sm_{args.arch})"
        if args.against:
            tree = checkout(args.against, work)
            results.append(
                (
                    f"mykernels at {args.against}, {kind}",
                    _timed(lambda: build_package(work / "before", env, tree)),
                )
            )
        if args.cpu_only:
            results.append((f"mykernels, {kind}", _timed(lambda: build_package(work, env))))
        else:
            results.append(
                (
                    f"mykernels, clean build (CPU + CUDA, sm_{args.arch})",
                    _timed(lambda: build_package(work, env)),
                )
            )
            kernels = ROOT / "cuda/instantiate.cu"
            kernels.touch()
            results.append(
                (
                    "mykernels, rebuild after touching instantiate.cu (pip wheel)",
                    _timed(lambda: build_package(work, env)),
                )
            )
            cmake_build = [shutil.which("cmake") or "cmake", "--build", str(work / "build")]
            for source in ("instantiate.cu", "launch.cu"):
                (ROOT / "cuda" / source).touch()
                results.append(
                    (
                        f"mykernels, rebuild after touching {source} (cmake --build)",
                        _timed(
                            lambda: subprocess.run(cmake_build, check=True, capture_output=True)
                        ),
                    )
                )
            results.append(
                (
                    "cpp_extension.load, one op, one .cu with torch/extension.h",
                    _timed(lambda: cpp_extension("naive_square", {"square.cu": NAIVE_CU}, work)),
                )
            )
            results.append(
                (
                    "cpp_extension.load, one op, split .cu + .cpp, minimal headers",
                    _timed(
                        lambda: cpp_extension(
                            "split_square", {"kernel.cu": SPLIT_CU, "binding.cpp": SPLIT_CPP}, work
                        )
                    ),
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cores = os.cpu_count()
    print(f"build times on {cores} cores")
    for label, seconds in results:
        print(f"  {label:68} {seconds:7.1f} s")


if __name__ == "__main__":
    main()
