"""The build's own advice works: CMake refuses a C++ compiler without a shared libstdc++, and the
rerun its message names, with CXX set to another compiler, configures the same build directory
with no clean-up step (cmake on PATH: pip's CMake 4.x here; .ci/run runs this with 3.31 too)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _configure(build: Path, cxx: str) -> subprocess.CompletedProcess:
    pybind11 = pytest.importorskip("pybind11", reason="the build tools are not installed")
    command = [
        shutil.which("cmake") or "cmake",
        "-S",
        str(ROOT),
        "-B",
        str(build),
        "-DSKBUILD_PROJECT_VERSION=0.0.0",
        "-DMYKERNELS_CUDA=OFF",
        f"-DPython_EXECUTABLE={sys.executable}",
        f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
    ]
    if shutil.which("ninja"):
        command += ["-G", "Ninja"]
    env = dict(os.environ, CXX=cxx)
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs GCC")
def test_the_compiler_message_names_a_rerun_that_works(tmp_path):
    # A GCC that has no shared libstdc++, as some conda and manylinux toolchains ship.
    static_only = tmp_path / "c++"
    static_only.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = "-print-file-name=libstdc++.so" ] && '
        "{ echo libstdc++.so; exit 0; }; done\n"
        f'exec {shutil.which("g++")} "$@"\n'
    )
    static_only.chmod(0o755)
    build = tmp_path / "build"
    refused = _configure(build, str(static_only))
    assert refused.returncode != 0
    message = re.sub(r"\s+", " ", refused.stderr)
    assert "has no shared libstdc++" in message
    assert "CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++ pip install" in message
    # The rerun the message names, in the same build directory.
    fixed = _configure(build, shutil.which("g++"))
    assert fixed.returncode == 0, fixed.stdout[-2000:] + fixed.stderr[-2000:]
    assert f"CXX={shutil.which('g++')} replaces {static_only}" in fixed.stdout
    cache = (build / "CMakeCache.txt").read_text()
    assert f"CMAKE_CXX_COMPILER:FILEPATH={shutil.which('g++')}" in cache
