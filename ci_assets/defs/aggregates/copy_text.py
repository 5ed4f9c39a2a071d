"""Streaming reads of a pg_dump data file: COPY text format, gzip-compressed or not.

A data file is one row per line, columns separated by TAB, `\\N` for NULL, and
backslash escapes for backslash and control characters (so a raw TAB or newline is
always a separator); it ends with the end-of-data line `\\.`, which is not a row.
Chunks of whole lines are handed out as they are decompressed, so memory stays
bounded by the chunk size whatever the file's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from isal import igzip_lib

END_OF_DATA = b"\\."
CHUNK_BYTES = 8 << 20

_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class DataFileError(ValueError):
    """A data file that cannot be read whole: corrupt, truncated, or without its end line."""


def unescape(field: str) -> str:
    """One COPY text field's escapes resolved (`\\\\`, `\\t`, `\\n`, octal, hex, ...)."""
    if "\\" not in field:
        return field

    def one(m: re.Match[str]) -> str:
        octal, hexa, char = m.groups()
        if octal:
            return chr(int(octal, 8))
        if hexa:
            return chr(int(hexa, 16))
        return _SIMPLE.get(char, char)

    return _ESCAPE.sub(one, field)


def checksummed(path: Path) -> bool:
    """Whether reading `path` proves its bytes are the ones pg_dump wrote: each gzip member's
    CRC-32 and length are checked as the member ends (ISA-L raises otherwise)."""
    return path.name.endswith(".gz")


def _blocks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    """The file's decompressed bytes in blocks of at most `chunk_bytes`.

    The compressed file is read whole (pg_dump's per-table files are megabytes) and
    inflated with ISA-L in large calls, which release the GIL, so worker threads
    decompress side by side; the output stays bounded by `chunk_bytes`.
    """
    data = path.read_bytes()
    if not checksummed(path):
        for start in range(0, len(data), chunk_bytes):
            yield data[start : start + chunk_bytes]
        return
    while data:  # a gzip file may hold several members, one after another
        inflater = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
        block = inflater.decompress(data, chunk_bytes)
        while True:
            if block:
                yield block
            if inflater.eof:
                break
            if inflater.needs_input:
                raise EOFError("compressed data ends before the end-of-stream marker")
            block = inflater.decompress(b"", chunk_bytes)
        data = inflater.unused_data


def line_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Chunks of whole rows (each ending in a newline), without the end-of-data line.

    Raises DataFileError naming the file when the gzip stream is corrupt or truncated,
    or when the data does not end with `\\.`: a partial table must never pass as whole.
    """
    pending = b""
    try:
        for block in _blocks(path, chunk_bytes):
            # Keep the tail back: it may hold the end-of-data line.
            cut = block.rfind(b"\n", 0, max(0, len(block) - 64)) + 1
            if cut > 0:
                # One copy: slicing `block` first would make two.
                yield b"".join((pending, memoryview(block)[:cut]))
                pending = block[cut:]
            else:
                pending += block
    except (EOFError, igzip_lib.IsalError) as e:
        raise DataFileError(f"{path.name}: cannot be decompressed whole ({type(e).__name__}: {e})") from e
    tail = pending.rstrip(b"\n")
    if tail == END_OF_DATA:
        return
    if not tail.endswith(b"\n" + END_OF_DATA):
        raise DataFileError(f"{path.name}: no end-of-data line '\\.'; the file is truncated or not COPY data")
    yield tail[: -len(END_OF_DATA)]
