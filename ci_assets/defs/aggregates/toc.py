"""pg_dump's archive table of contents (`toc.dat` of a `--format directory` dump), read as the format it is.

Layout (pg_backup_archiver.c, ReadHead/ReadToc): the magic `PGDMP`, version bytes, the
sizes of integers and offsets, the format, compression, creation time, database name
and server/pg_dump versions; then a count and one entry per dumped object. An integer
is a sign byte and `int_size` little-endian bytes; a string is such an integer length
(negative: NULL) and that many bytes. For the directory format each entry ends with its
data file's name (`NNNN.dat`, empty for objects without data).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

MAGIC = b"PGDMP"
TOC_FILE = "toc.dat"
FORMAT_DIRECTORY = 3
OLDEST, NEWEST = (1, 12, 0), (1, 16, 0)


class TocError(ValueError):
    """A toc.dat that is not a pg_dump archive this reader understands."""


@dataclasses.dataclass(frozen=True)
class Header:
    version: tuple[int, int, int]
    int_size: int
    offset_size: int
    format: int
    compression: int
    created: dt.datetime | None
    database: str | None
    server_version: str | None
    pg_dump_version: str | None
    entries_at: int = 0  # offset of the entry count in toc.dat


@dataclasses.dataclass(frozen=True)
class Entry:
    dump_id: int
    had_dumper: bool
    table_oid: str | None
    oid: str | None
    tag: str | None
    desc: str | None
    section: int | None
    defn: str | None
    drop_stmt: str | None
    copy_stmt: str | None
    namespace: str | None
    tablespace: str | None
    tableam: str | None
    relkind: int | None
    owner: str | None
    dependencies: list[int]
    filename: str | None
    span: tuple[int, int] = (0, 0)  # where the entry lies in toc.dat, to copy it byte for byte


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos, self.int_size = data, 0, 4

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise TocError(f"toc.dat ends early: wanted {n} bytes at offset {self.pos} of {len(self.data)}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def int(self) -> int:
        sign = self.byte()
        value = int.from_bytes(self.take(self.int_size), "little")
        return -value if sign else value

    def str(self) -> str | None:
        length = self.int()
        if length < 0:
            return None
        return self.take(length).decode("utf-8")


def parse(data: bytes) -> tuple[Header, list[Entry]]:
    """The header and entries; TocError naming the offset for anything it cannot read (a damaged
    entry can hold any bytes: an impossible size, text that is not UTF-8, a date out of range)."""
    reader = _Reader(data)
    try:
        return _parse(reader)
    except TocError:
        raise
    except (ValueError, OverflowError, IndexError) as err:
        raise TocError(f"toc.dat is damaged at offset {reader.pos}: {type(err).__name__}: {err}") from None


def _parse(reader: _Reader) -> tuple[Header, list[Entry]]:
    if reader.take(5) != MAGIC:
        raise TocError("not a pg_dump archive (no PGDMP magic)")
    version = (reader.byte(), reader.byte(), reader.byte())
    shown = ".".join(map(str, version))
    if version < OLDEST:
        raise TocError(f"archive version {shown} is older than this reader handles (1.12, PostgreSQL 12)")
    if version[:2] > NEWEST[:2]:
        raise TocError(f"archive version {shown} is newer than this reader knows (1.16, PostgreSQL 17-18)")
    reader.int_size = reader.byte()
    offset_size = reader.byte()
    archive_format = reader.byte()
    compression = reader.byte() if version >= (1, 15, 0) else reader.int()
    sec, minute, hour, mday, mon, year, _isdst = (reader.int() for _ in range(7))
    try:
        created = dt.datetime(year + 1900, mon + 1, mday, hour, minute, sec)
    except ValueError:
        created = None
    header = Header(
        version,
        reader.int_size,
        offset_size,
        archive_format,
        compression,
        created,
        reader.str(),
        reader.str(),
        reader.str(),
    )
    header = dataclasses.replace(header, entries_at=reader.pos)
    entries = []
    for _ in range(reader.int()):
        start = reader.pos
        entry = _entry(reader, version, archive_format)
        entries.append(dataclasses.replace(entry, span=(start, reader.pos)))
    return header, entries


def _entry(reader: _Reader, version: tuple[int, int, int], archive_format: int) -> Entry:
    dump_id, had_dumper = reader.int(), bool(reader.int())
    table_oid, oid, tag, desc = reader.str(), reader.str(), reader.str(), reader.str()
    section = reader.int()
    defn, drop_stmt, copy_stmt = reader.str(), reader.str(), reader.str()
    namespace, tablespace = reader.str(), reader.str()
    tableam = reader.str() if version >= (1, 14, 0) else None
    relkind = reader.int() if version >= (1, 16, 0) else None
    owner = reader.str()
    reader.str()  # "with oids": always "false" since PostgreSQL 12
    dependencies = []
    while (dependency := reader.str()) is not None:
        dependencies.append(int(dependency))
    filename = reader.str() if archive_format == FORMAT_DIRECTORY else None
    return Entry(
        dump_id,
        had_dumper,
        table_oid,
        oid,
        tag,
        desc,
        section,
        defn,
        drop_stmt,
        copy_stmt,
        namespace,
        tablespace,
        tableam,
        relkind,
        owner,
        dependencies,
        filename or None,
    )


def read(directory: Path) -> tuple[Header, list[Entry]]:
    return parse((directory / TOC_FILE).read_bytes())


def data_files(entries: list[Entry]) -> dict[str, Entry]:
    """`NNNN.dat` -> its TABLE DATA entry (the table is `entry.namespace`.`entry.tag`)."""
    return {e.filename: e for e in entries if e.desc == "TABLE DATA" and e.filename}


def subset(data: bytes, header: Header, entries: list[Entry], keep: list[Entry]) -> bytes:
    """toc.dat with only the `keep` entries, each copied byte for byte (header and tail unchanged)."""
    count = len(keep).to_bytes(header.int_size, "little")
    tail = data[entries[-1].span[1] :] if entries else data[header.entries_at + 1 + header.int_size :]
    return b"".join([data[: header.entries_at], b"\x00", count, *(data[slice(*e.span)] for e in keep), tail])
