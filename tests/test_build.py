"""What was built: build_info, the embedded CUDA architectures, python -m mykernels."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mykernels
from elf import abi_problems, embedded_architectures, needed_libraries
from helpers import BUILT_WITH_CUDA, HAS_GPU, random

EXTENSION = Path(mykernels._C.__file__)


def test_build_info():
    info = mykernels.build_info()
    assert set(info) == {
        "version",
        "torch",
        "torch_min",
        "fast_path",
        "cuda",
        "cuda_architectures",
        "cuda_ptx",
        "compiler",
        "cuda_compiler",
        "build_type",
        "commit",
    }
    assert info["version"] == mykernels.__version__ == importlib.metadata.version("mykernels")
    assert info["torch_min"] == "2.10"
    assert info["fast_path"] in ("dlpack+aoti", "dlpack+pyobject"), info["fast_path"]
    # 2.14 added torch_tensor_to_pyobject to the stable ABI; the fast path uses it where present.
    newer = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 14)
    assert (info["fast_path"] == "dlpack+pyobject") == newer
    assert (
        (info["cuda"] is None)
        == (info["cuda_compiler"] is None)
        == (not info["cuda_architectures"] and not info["cuda_ptx"])
    )
    # A hex commit (with "-dirty" for uncommitted changes) where the source was a git checkout.
    assert info["commit"] is None or re.fullmatch(r"[0-9a-f]{7,40}(-dirty)?", info["commit"])
    info["cuda_architectures"].append("changed")  # a copy: the caller cannot change the record
    assert "changed" not in mykernels.build_info()["cuda_architectures"]


def test_embedded_architectures_are_the_requested_ones():
    # A CPU-only build lists none and embeds none.
    info = mykernels.build_info()
    sass, ptx = embedded_architectures(EXTENSION)
    # The fat binary records the architecture's number: sm_90a is listed as sm_90.
    assert sass == {_number_only(arch) for arch in info["cuda_architectures"]}
    assert ptx == {_number_only(arch) for arch in info["cuda_ptx"]}
    cuobjdump = shutil.which("cuobjdump")
    if cuobjdump and BUILT_WITH_CUDA:  # cross-check with NVIDIA's tool where it is installed
        listed = subprocess.run(
            [cuobjdump, "--list-elf", str(EXTENSION)], capture_output=True, text=True, check=True
        ).stdout
        cubins = {line.rsplit(".", 2)[-2] for line in listed.splitlines() if ".cubin" in line}
        assert cubins == set(info["cuda_architectures"])


def test_extension_shares_the_cpp_runtime_with_torch():
    # A private, static copy of libstdc++ in the extension crashes inside torch's process; CMake
    # refuses such compilers, and this checks the result.
    assert "libstdc++.so.6" in needed_libraries(EXTENSION)


def test_extension_uses_only_the_stable_abi():
    # What .ci/check-abi checks of a wheel: no C++ symbol of torch, c10 or ATen, no NEEDED entry
    # for libtorch_python, libtorch_cuda or a CUDA runtime (linked statically). Only libtorch_cpu,
    # for the stable C functions.
    assert abi_problems(EXTENSION) == []
    needed = needed_libraries(EXTENSION)
    assert "libtorch_cpu.so" in needed
    assert not any(name.startswith(("libcudart", "libtorch_python", "libc10")) for name in needed)


def test_the_abi_check_can_fail():
    # torch's own Python binding uses its C++ API: the check must say so.
    problems = abi_problems(Path(torch.__file__).parent / "lib" / "libtorch_python.so")
    assert "NEEDED libtorch.so" in problems
    assert any(p.startswith("undefined _ZN3c10") for p in problems)


def test_metadata_requires_the_oldest_torch_served_and_no_upper_bound():
    requires = importlib.metadata.requires("mykernels")
    assert f"torch>={mykernels.build_info()['torch_min']}" in requires


def test_older_torch_gets_an_import_error(tmp_path):
    # The import check runs before the extension loads: a torch older than torch_min gets an
    # ImportError naming the minimum (simulated by a torch module that reports 2.9.1).
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '2.9.1+cpu'\n")
    package = Path(mykernels.__file__).parent
    run = subprocess.run(
        [sys.executable, "-c", "import mykernels"],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": f"{tmp_path}:{package.parent}", "PATH": ""},
    )
    assert run.returncode != 0
    assert "ImportError: mykernels needs torch >= 2.10, but torch 2.9.1+cpu is installed" in (
        run.stderr
    )


def _number_only(arch: str) -> str:
    return re.sub(r"[af]$", "", arch)


@pytest.mark.skipif(not HAS_GPU, reason="no CUDA GPU")
def test_cuda_tensors_need_a_cuda_build():
    x = random((5,), device="cuda")
    if BUILT_WITH_CUDA:
        major, minor = torch.cuda.get_device_capability()
        built = {_number_only(arch) for arch in mykernels.build_info()["cuda_architectures"]}
        assert f"sm_{major}{minor}" in built
        torch.testing.assert_close(mykernels.square(x), x * x)
    else:
        with pytest.raises(
            RuntimeError,
            match=r"mykernels\.square: this build of mykernels has no CUDA kernels .* "
            r"MYKERNELS_CUDA=ON pip install",
        ):
            mykernels.square(x)


def test_python_m_mykernels():
    run = subprocess.run(
        [sys.executable, "-m", "mykernels"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"version": "' in run.stdout
    last = run.stdout.rstrip().splitlines()[-1]
    assert last.startswith("self-check passed on cpu"), last
    # Where CUDA was not checked, the output says so and why.
    cuda_checked = BUILT_WITH_CUDA and HAS_GPU
    assert ("cuda     not checked: " in run.stdout) == (not cuda_checked)
    checked = [
        line.split()[:2]
        for line in run.stdout.splitlines()
        if line.endswith(")") and " ok " in line
    ]
    devices = {"cpu"} | (
        {f"cuda:{i}" for i in range(torch.cuda.device_count())} if cuda_checked else set()
    )
    assert {(d, op) for d in devices for op in mykernels.ops.OPS} == {tuple(c) for c in checked}
