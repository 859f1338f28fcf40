"""``python -m mykernels``: print the build information and check every op on every device."""

from __future__ import annotations

import json
import sys

import torch

import mykernels


def _devices() -> list[torch.device]:
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        if mykernels.build_info()["cuda"] is None:
            print("CUDA GPUs are present, but this build has no CUDA kernels (MYKERNELS_CUDA)")
        else:
            devices += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    return devices


def _describe(device: torch.device) -> str:
    if device.type != "cuda":
        return f"CPU, {mykernels._C.cpu_capability} kernels"
    major, minor = torch.cuda.get_device_capability(device)
    return f"{torch.cuda.get_device_name(device)}, sm_{major}{minor}"


def _references(device: torch.device) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, mykernels result, float64 torch reference) for each op on fresh random inputs."""
    x = torch.randn(1000, 37, device=device)
    y = torch.randn(37, device=device)
    x64, y64 = x.double(), y.double()
    return [
        ("square", mykernels.square(x), torch.square(x64)),
        ("add", mykernels.add(x, y, alpha=0.5), torch.add(x64, y64, alpha=0.5)),
        ("d_sigmoid", mykernels.d_sigmoid(x), torch.sigmoid(x64) * torch.sigmoid(-x64)),
    ]


def main() -> int:
    print(json.dumps(mykernels.build_info(), indent=2))
    failures = 0
    for device in _devices():
        name = _describe(device)
        for op, got, want in _references(device):
            try:
                torch.testing.assert_close(got.double(), want)
                status = "ok"
            except AssertionError as error:
                failures += 1
                status = f"FAILED: {error}"
            print(f"{device!s:8} {op:10} {status}  ({name})")
    print("self-check passed" if failures == 0 else f"self-check: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
