"""The ops without Python: an AOTInductor package of a program that calls all three, run from a
C++ program (tests/deploy) that loads the op library, on each device, and one operator called
through the dispatcher from C++. Both match the eager Python results."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import mykernels
from helpers import DEVICES

DEPLOY = Path(__file__).parent / "deploy"


@pytest.fixture(scope="module")
def run_package(tmp_path_factory) -> Path:
    """The C++ program, built against the installed torch's LibTorch."""
    build = tmp_path_factory.mktemp("deploy-build")
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is not installed (pip install cmake)")
    configure = [cmake, "-S", str(DEPLOY), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"]
    configure += [f"-DTORCH_ROOT={Path(torch.__file__).parent}"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    for command in (configure, [cmake, "--build", str(build)]):
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return build / "run_package"


def _read(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(shape))


@pytest.mark.parametrize("device", DEVICES)
def test_aoti_package_runs_from_cpp(run_package, device, tmp_path):
    device = "cuda:0" if device == "cuda" else device
    export = [sys.executable, str(DEPLOY / "export_package.py"), device, str(tmp_path)]
    run = subprocess.run([*export, "--operators"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # The package calls the mykernels operators: the process that runs it must register them.
    with zipfile.ZipFile(tmp_path / "model.pt2") as package:
        code = b"".join(
            package.read(name) for name in package.namelist() if name.endswith((".cpp", ".json"))
        )
    for op in ("square", "add", "d_sigmoid"):  # the program's (export_package.py)
        assert f"mykernels::{op}".encode() in code or f"mykernels.{op}".encode() in code, op

    command = [run_package, mykernels.library_path(), tmp_path / "model.pt2", device, tmp_path]
    run = subprocess.run(list(map(str, command)), capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    x, y = _read(tmp_path / "x.bin", (64, 37)), _read(tmp_path / "y.bin", (37,))
    torch.testing.assert_close(
        _read(tmp_path / "package.bin", (64, 37)), _read(tmp_path / "eager.bin", (64, 37))
    )
    torch.testing.assert_close(
        _read(tmp_path / "add.bin", (64, 37)),
        mykernels.add(x.to(device), y.to(device), alpha=0.5).cpu(),
    )
