"""What a shared library is made of, read from its ELF file without external tools.

- embedded_architectures: the GPU code, as ``cuobjdump --list-elf`` and ``--list-ptx`` show it.
  The section ``.nv_fatbin`` is a sequence of fat binaries (one per compiled CUDA file), each a
  header followed by entries of machine code (``sm_XX``) or PTX (``compute_XX``).
- needed_libraries: the DT_NEEDED entries of the dynamic section, as ``readelf -d`` shows them.
- undefined_symbols: the symbols the library takes from others, as ``nm -D --undefined-only``
  shows them (without versions).
- abi_problems: what ties a library to one torch or one CUDA runtime (.ci/check-abi).
- python_problems: what ties a library to Python (.ci/check-abi, for the op library).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

_FATBIN_MAGIC = 0xBA55ED50
_KIND_PTX = 1
_KIND_ELF = 2


def _section(data: bytes, name: str) -> bytes:
    """The contents of the named section of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        name_offset, _, _, _, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize
        )
        return name_offset, offset, size

    _, names_offset, _ = header(shstrndx)
    for i in range(shnum):
        name_offset, offset, size = header(i)
        start = names_offset + name_offset
        if data[start : data.index(b"\0", start)].decode() == name:
            return data[offset : offset + size]
    return b""


def needed_libraries(library: str | Path) -> list[str]:
    """The shared libraries the library names as its dependencies (DT_NEEDED)."""
    data = Path(library).read_bytes()
    dynamic, strings = _section(data, ".dynamic"), _section(data, ".dynstr")
    needed = []
    for offset in range(0, len(dynamic) - 15, 16):
        tag, value = struct.unpack_from("<qQ", dynamic, offset)
        if tag == 0:  # DT_NULL ends the table
            break
        if tag == 1:  # DT_NEEDED: an offset into .dynstr
            needed.append(strings[value : strings.index(b"\0", value)].decode())
    return needed


def embedded_architectures(library: str | Path) -> tuple[set[str], set[str]]:
    """(machine code architectures like {"sm_90"}, PTX architectures like {"compute_90"})."""
    fatbins = _section(Path(library).read_bytes(), ".nv_fatbin")
    sass: set[str] = set()
    ptx: set[str] = set()
    offset = 0
    while offset + 16 <= len(fatbins):
        magic, _, header_size, fat_size = struct.unpack_from("<IHHQ", fatbins, offset)
        if magic != _FATBIN_MAGIC:
            offset += 8  # fat binaries are 8-byte aligned; skip padding
            continue
        entry = offset + header_size
        end = entry + fat_size
        while entry < end:
            kind, _, entry_header, payload = struct.unpack_from("<HHII", fatbins, entry)
            arch = struct.unpack_from("<I", fatbins, entry + 28)[0]
            if kind == _KIND_ELF:
                sass.add(f"sm_{arch}")
            elif kind == _KIND_PTX:
                ptx.add(f"compute_{arch}")
            entry += entry_header + payload
        offset = end
    return sass, ptx


def defined_symbols(library: str | Path) -> list[str]:
    """The names of the global and weak symbols the library defines and exports (.dynsym), as
    ``nm -D --defined-only`` shows them (without versions)."""
    data = Path(library).read_bytes()
    symbols, strings = _section(data, ".dynsym"), _section(data, ".dynstr")
    names = []
    for offset in range(24, len(symbols) - 23, 24):  # entry 0 is the null symbol
        name, info, other, shndx = struct.unpack_from("<IBBH", symbols, offset)
        binding, visibility = info >> 4, other & 3
        if shndx != 0 and name != 0 and binding in (1, 2) and visibility == 0:  # GLOBAL, WEAK
            names.append(strings[name : strings.index(b"\0", name)].decode())
    return names


def undefined_symbols(library: str | Path) -> list[str]:
    """The names of the undefined entries of the dynamic symbol table (.dynsym)."""
    data = Path(library).read_bytes()
    symbols, strings = _section(data, ".dynsym"), _section(data, ".dynstr")
    names = []
    for offset in range(24, len(symbols) - 23, 24):  # entry 0 is the null symbol
        name, _, _, shndx = struct.unpack_from("<IBBH", symbols, offset)
        if shndx == 0 and name != 0:  # SHN_UNDEF
            names.append(strings[name : strings.index(b"\0", name)].decode())
    return names


# A C++ symbol of torch's C++ API: a mangled name in the namespaces c10, at, torch or caffe2 (their
# functions, and the type information and vtables of their classes).
_TORCH_CXX = re.compile(r"^_Z(?:T[IVS])?N?K?(?:3c10|2at|5torch|6caffe2)")
# Libraries whose names change with the torch or CUDA version, or that a CPU-only torch lacks.
_PINNING_LIBRARIES = re.compile(r"^lib(?:torch_python|torch_cuda|c10_cuda|cudart|torch)\.so")


def abi_problems(library: str | Path) -> list[str]:
    """What ties the library to one torch build: C++ symbols of torch, c10 or ATen, and NEEDED
    entries for libtorch_python, libtorch_cuda, libc10_cuda, libtorch or the CUDA runtime. The
    stable ABI's C functions (aoti_torch_*, torch_*) from libtorch_cpu are what it may use."""
    problems = [
        f"NEEDED {name}" for name in needed_libraries(library) if _PINNING_LIBRARIES.match(name)
    ]
    problems += [
        f"undefined {name}" for name in undefined_symbols(library) if _TORCH_CXX.match(name)
    ]
    return problems


# Python's C API (Py*, _Py*) and its library.
_PYTHON_SYMBOL = re.compile(r"^_?Py")
_PYTHON_LIBRARY = re.compile(r"^libpython")


def python_problems(library: str | Path) -> list[str]:
    """What ties the library to Python, which the op library must not need (a C++ process loads
    it): a NEEDED libpython, and any undefined symbol of Python's C API."""
    problems = [
        f"NEEDED {name}" for name in needed_libraries(library) if _PYTHON_LIBRARY.match(name)
    ]
    problems += [
        f"undefined {name}" for name in undefined_symbols(library) if _PYTHON_SYMBOL.match(name)
    ]
    return problems
