"""``python -m mykernels``: print the build information and check every op on every device."""

from __future__ import annotations

import json
import sys

import torch

import mykernels


def _devices() -> tuple[list[torch.device], str | None]:
    """The devices to check, and why CUDA is not among them (None when it is)."""
    info = mykernels.build_info()
    cpu = [torch.device("cpu")]
    if info["cuda"] is None:
        return cpu, (
            "this build has no CUDA kernels (MYKERNELS_CUDA=OFF, or AUTO without nvcc or without "
            "a CUDA build of torch)"
        )
    kernels = ", ".join(info["cuda_architectures"] + info["cuda_ptx"])
    if torch.version.cuda is None:
        return cpu, (
            f"this build has CUDA kernels ({kernels}), but torch {torch.__version__} is a "
            "CPU-only build of torch"
        )
    if not torch.cuda.is_available():
        return cpu, f"this build has CUDA kernels ({kernels}), but no CUDA GPU is visible"
    return cpu + [torch.device("cuda", i) for i in range(torch.cuda.device_count())], None


def _describe(device: torch.device) -> str:
    if device.type != "cuda":
        return f"CPU, {mykernels._library.CPU_CAPABILITY} kernels"
    major, minor = torch.cuda.get_device_capability(device)
    return f"{torch.cuda.get_device_name(device)}, sm_{major}{minor}"


def _references(device: torch.device) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, mykernels result, torch's result in float64) for each op on fresh random inputs."""
    inputs = [torch.randn(1000, 37, device=device), torch.randn(37, device=device)]
    checks = []
    for name, op in mykernels.ops.OPS.items():
        args = [inputs[i % len(inputs)] for i in range(op.arity)]
        floats = {key: 0.5 for key in op.floats}  # not the defaults: passing them is checked
        got = op.function(*args, **floats)
        checks.append((name, got, op.torch_equivalent(*(a.double() for a in args), **floats)))
    return checks


def main() -> int:
    print(json.dumps(mykernels.build_info(), indent=2))
    failures = 0
    devices, cuda_unchecked = _devices()
    for device in devices:
        name = _describe(device)
        for op, got, want in _references(device):
            try:
                torch.testing.assert_close(got.double(), want)
                status = "ok"
            except AssertionError as error:
                failures += 1
                status = f"FAILED: {error}"
            print(f"{device!s:8} {op:10} {status}  ({name})")
    if cuda_unchecked is not None:
        print(f"cuda     not checked: {cuda_unchecked}")
    checked = ", ".join(str(device) for device in devices)
    print(
        f"self-check passed on {checked}"
        if failures == 0
        else f"self-check: {failures} failures on {checked}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
