"""``python -m mykernels``: what a bug report needs. The environment this copy of mykernels runs in
(Python, torch and its CUDA, the OS and glibc, the CPU and the CPU kernels' instruction set, each
GPU with its architecture, the driver and whether the build has code for it, the call path), what
it was built with, and a check of every op on every device against torch."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import sysconfig

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


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "Model")):  # x86; some Arm kernels
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _driver() -> str:
    """The NVIDIA driver's version, where the machine says."""
    try:
        with open("/proc/driver/nvidia/version") as version:
            found = re.search(r"Kernel Module(?: for \S+)?\s+(\d+[.\d]*)", version.read())
            if found:
                return found.group(1)
    except OSError:
        pass
    try:
        run = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return run.stdout.splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _gpu_code(major: int, minor: int, info: dict[str, object]) -> str:
    """What the build has for a GPU of compute capability major.minor. Machine code for sm_XY runs
    on the GPUs of major X and minor Y or higher; sm_XYa only on X.Y; sm_XYf on X.Y and higher of
    that family. PTX for compute_XY is compiled by the driver for any GPU of X.Y or higher."""
    device = major * 10 + minor

    def parsed(arch: str) -> tuple[int, str]:
        found = re.fullmatch(r"(?:sm|compute)_(\d+)([af]?)", arch)
        return (int(found.group(1)), found.group(2)) if found else (-1, "")

    def runs(arch: str) -> bool:
        number, suffix = parsed(arch)
        if number < 0 or number // 10 != major:
            return False
        return number == device if suffix == "a" else number <= device

    sm = f"sm_{device}"
    machine = [arch for arch in info["cuda_architectures"] if runs(arch)]
    if machine:
        return f"machine code {machine[-1]}" + (f" (for {sm})" if machine[-1] != sm else "")
    ptx = [p for p in info["cuda_ptx"] if 0 <= parsed(p)[0] <= device and parsed(p)[1] != "a"]
    if ptx:
        return f"no {sm} machine code; PTX {ptx[-1]}, compiled by the driver at first use"
    built = ", ".join(info["cuda_architectures"] + info["cuda_ptx"]) or "none"
    return f"NONE: no code for {sm} (built for {built}); rebuild with MYKERNELS_CUDA_ARCHITECTURES"


def environment() -> dict[str, object]:
    """The running environment, as a bug report needs it."""
    info = mykernels.build_info()
    gil = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "with the GIL"
    env: dict[str, object] = {
        "python": f"{platform.python_implementation()} {platform.python_version()} ({gil}), "
        f"{sys.executable}",
        "torch": f"{torch.__version__} (CUDA {torch.version.cuda or 'none: a CPU-only build'}), "
        f"{os.path.dirname(torch.__file__)}",
        "mykernels": f"{mykernels.__version__}, built against torch {info['torch']} (runs with "
        f"torch >= {info['torch_min']}), {os.path.dirname(mykernels.__file__)}",
        "os": f"{platform.system()} {platform.release()}, "
        f"{' '.join(platform.libc_ver()) or 'libc unknown'}",
        "cpu": f"{_cpu_name()} ({platform.machine()}), mykernels CPU kernels: "
        f"{mykernels._library.CPU_CAPABILITY}",
        "call path": "eager fast path (" + info["fast_path"] + ")"
        if info["fast_path"].startswith("dlpack")
        else f"operators only: the fast path is {info['fast_path']}",
    }
    if torch.cuda.is_available():
        gpus = []
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            code = _gpu_code(major, minor, info) if info["cuda"] else "none: a CPU-only build"
            gpus.append(f"cuda:{i} {torch.cuda.get_device_name(i)}, sm_{major}{minor}: {code}")
        env["gpus"] = gpus
        env["nvidia driver"] = _driver()
    else:
        env["gpus"] = "none visible to torch"
    return env


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
    print("environment:", json.dumps(environment(), indent=2))
    print("build:", json.dumps(mykernels.build_info(), indent=2))
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
