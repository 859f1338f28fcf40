"""The GPU code embedded in a shared library: what ``cuobjdump --list-elf`` and ``--list-ptx`` show.

Reads the ELF section ``.nv_fatbin``, a sequence of fat binaries (one per compiled CUDA file),
each a header followed by entries of machine code (``sm_XX``) or PTX (``compute_XX``).
"""

from __future__ import annotations

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
