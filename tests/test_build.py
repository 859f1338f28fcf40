"""What was built: the op library and the binding, build_info, the embedded CUDA architectures,
python -m mykernels."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

import mykernels
from elf import (
    abi_problems,
    defined_symbols,
    embedded_architectures,
    needed_libraries,
    python_problems,
    undefined_symbols,
)
from helpers import BUILT_WITH_CUDA, FAST_PATH, HAS_GPU, random, requires_fast_path

LIBRARY = Path(mykernels.library_path())  # the op library, with both engines
# One binding per CPython built for, in the package's directories (two in an editable install).
BINDINGS = sorted(b for d in mykernels.__path__ for b in Path(d).glob("_C.*.so"))
INTERPRETER = f"{sys.version_info[0]}.{sys.version_info[1]}" + (
    "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
)


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
        "bindings",
    }
    assert info["version"] == mykernels.__version__ == importlib.metadata.version("mykernels")
    assert info["torch_min"] == "2.10"
    assert len(BINDINGS) == len(info["bindings"]) >= 1
    if os.environ.get("MYKERNELS_FAST_PATH") == "0":
        assert info["fast_path"] == "off: MYKERNELS_FAST_PATH=0"
    elif INTERPRETER not in info["bindings"]:
        assert info["fast_path"].startswith(f"off: no binding for CPython {INTERPRETER}")
    else:
        # The fast path is on wherever the package has this interpreter's binding. 2.14 added
        # torch_tensor_to_pyobject to the stable ABI; the fast path uses it where present.
        newer = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 14)
        expected = "dlpack+pyobject" if newer else "dlpack+aoti"
        assert info["fast_path"] == expected
    assert info["fast_path"].startswith("dlpack") == FAST_PATH
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
    sass, ptx = embedded_architectures(LIBRARY)
    # The fat binary records the architecture's number: sm_90a is listed as sm_90.
    assert sass == {_number_only(arch) for arch in info["cuda_architectures"]}
    assert ptx == {_number_only(arch) for arch in info["cuda_ptx"]}
    cuobjdump = shutil.which("cuobjdump")
    if cuobjdump and BUILT_WITH_CUDA:  # cross-check with NVIDIA's tool where it is installed
        listed = subprocess.run(
            [cuobjdump, "--list-elf", str(LIBRARY)], capture_output=True, text=True, check=True
        ).stdout
        cubins = {line.rsplit(".", 2)[-2] for line in listed.splitlines() if ".cubin" in line}
        assert cubins == set(info["cuda_architectures"])


@pytest.mark.parametrize("library", [LIBRARY, *BINDINGS], ids=lambda path: path.name)
def test_shares_the_cpp_runtime_with_torch(library):
    # A private, static copy of libstdc++ in a library crashes inside torch's process; CMake
    # refuses such compilers, and this checks the result.
    assert "libstdc++.so.6" in needed_libraries(library)


@pytest.mark.parametrize("library", [LIBRARY, *BINDINGS], ids=lambda path: path.name)
def test_uses_only_the_stable_abi(library):
    # What .ci/check-abi checks of a wheel: no C++ symbol of torch, c10 or ATen, no NEEDED entry
    # for libtorch_python, libtorch_cuda or a CUDA runtime (linked statically). Only libtorch_cpu,
    # for the stable C functions.
    assert abi_problems(library) == []
    needed = needed_libraries(library)
    assert "libtorch_cpu.so" in needed
    assert not any(name.startswith(("libcudart", "libtorch_python", "libc10")) for name in needed)


def test_op_library_needs_no_python():
    # A C++ process loads it: no libpython, no symbol of Python's C API, and the binding is
    # another file, which calls into it.
    assert python_problems(LIBRARY) == []
    assert not any(name.startswith("libpython") for name in needed_libraries(LIBRARY))
    for binding in BINDINGS:
        assert "libmykernels.so" in needed_libraries(binding)
        assert any(symbol.startswith("Py") for symbol in undefined_symbols(binding))


@pytest.mark.parametrize("binding", BINDINGS, ids=lambda path: path.name)
def test_the_python_check_can_fail(binding):
    assert "undefined PyErr_Clear" in python_problems(binding)


def test_op_library_exports_only_its_own():
    # Its C function, the binding's C++ entry points (namespace mykernels) and the C++ runtime's
    # shared inline objects; nothing of the CUDA runtime it links statically, nor of the engines.
    exported = defined_symbols(LIBRARY)
    assert "mykernels_library_info" in exported
    c_functions = {s for s in exported if not s.startswith("_")}
    assert c_functions == {"mykernels_library_info"}, c_functions
    assert not [s for s in exported if s.startswith(("_ZN9mykernels3cpu", "_ZN9mykernels4cuda"))]


def test_op_library_registers_the_operators_without_mykernels():
    # A process that never imports mykernels: torch.ops.load_library(path) gives it the operators
    # with their kernels (the CPU ones here; CUDA ones where there is a GPU and a CUDA build).
    check = f"""
import sys, torch
torch.ops.load_library({str(LIBRARY)!r})
devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and {BUILT_WITH_CUDA} else [])
for device in devices:
    x = torch.randn(1000, 3, device=device, dtype=torch.float64)
    y = torch.randn(3, device=device, dtype=torch.float64)
    torch.testing.assert_close(torch.ops.mykernels.add(x, y, alpha=0.5), x + 0.5 * y)
    torch.testing.assert_close(torch.ops.mykernels.square(x), x * x)
    s = torch.sigmoid(x)
    torch.testing.assert_close(torch.ops.mykernels.d_sigmoid(x), s * (1 - s))
assert "mykernels" not in sys.modules
print(" ".join(devices))
"""
    run = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False, cwd="/"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == "cpu"


def test_without_the_fast_path_the_public_functions_are_the_python_functions():
    check = """
import torch, mykernels, types
assert mykernels.build_info()["fast_path"] == "off: MYKERNELS_FAST_PATH=0"
assert isinstance(mykernels.square, types.FunctionType)
x = torch.randn(100)
torch.testing.assert_close(mykernels.add(x, x, alpha=2), 3 * x)
print(mykernels.square.__module__)
"""
    env = dict(os.environ, MYKERNELS_FAST_PATH="0")
    run = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["mykernels.ops"]


def test_import_loads_no_compiler():
    # The hooks for torch.compile and DTensor go in when the program imports them (_hooks.py): a
    # program that never compiles pays nothing for the compiler. tests/test_fusion.py compiles
    # with them, in a process that imported mykernels first.
    check = """
import sys, torch
before = set(sys.modules)
import mykernels
heavy = ("torch._dynamo", "torch._inductor", "torch.distributed.tensor", "sympy")
print(sorted(m for m in set(sys.modules) - before if m.startswith(heavy)))
"""
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_an_interpreter_without_a_binding_runs_without_the_fast_path(monkeypatch):
    # A CPython the wheel was not built for (a later one): no binding is imported, and it says why.
    monkeypatch.setitem(mykernels._binding.BUILD_INFO, "bindings", ["3.99"])
    monkeypatch.delenv("MYKERNELS_FAST_PATH", raising=False)
    module, status = mykernels._binding._load()
    assert module is None
    assert status == f"off: no binding for CPython {INTERPRETER} (built for CPython 3.99)"


@requires_fast_path
def test_with_the_fast_path_the_public_functions_are_the_bindings():
    assert mykernels.square.__self__ is mykernels._C
    assert Path(mykernels._C.__file__) in BINDINGS


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
    # The environment: the torch that runs (under .ci/wheel, another than the build's) and the one
    # the build was compiled against, both named; the Python, the call path.
    info = mykernels.build_info()
    assert f'"torch": "{torch.__version__} (CUDA ' in run.stdout
    assert f"built against torch {info['torch']}" in run.stdout
    assert f"{platform.python_version()} (" in run.stdout
    assert ('"call path": "eager fast path' in run.stdout) == FAST_PATH
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


def test_python_m_mykernels_says_what_code_each_gpu_gets():
    from mykernels.__main__ import _gpu_code

    info = {"cuda_architectures": ["sm_80", "sm_90a"], "cuda_ptx": ["compute_90"]}
    assert _gpu_code(8, 0, info) == "machine code sm_80"
    assert _gpu_code(8, 6, info) == "machine code sm_80 (for sm_86)"  # same major, lower minor
    assert _gpu_code(9, 0, info) == "machine code sm_90a (for sm_90)"
    assert _gpu_code(12, 0, info).startswith("no sm_120 machine code; PTX compute_90")
    assert _gpu_code(7, 5, info).startswith("NONE: no code for sm_75")
    # sm_90a runs on 9.0 alone; PTX of an architecture-specific target runs nowhere else.
    assert _gpu_code(
        9, 5, {"cuda_architectures": ["sm_90a"], "cuda_ptx": ["compute_90a"]}
    ).startswith("NONE")
