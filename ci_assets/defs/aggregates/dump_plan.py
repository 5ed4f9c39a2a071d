"""What a dump directory holds, decided from its toc.dat before any row is read.

Every data file must be named by a TABLE DATA entry of the TOC and every such entry's
file must be there; anything else means the dump is not whole and nothing of it is
converted. Tables whose name or columns are not an aggregate's of the partition are
excluded, each with its reason, so they are reported rather than silently skipped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

from ci_assets.defs.aggregates import toc
from ci_assets.defs.aggregates.names import TableName, TableNameError, parse_table_name

_DATA_FILE = re.compile(r"^\d+\.dat(\.gz)?$")
_COLUMNS = re.compile(r"\(\s*dimensions\s+jsonb\s*,\s*histogram\s+bigint\[\]\s*\)")


class DumpError(ValueError):
    """A dump directory that cannot be converted whole."""


@dataclasses.dataclass(frozen=True)
class DataFile:
    path: Path
    table: TableName
    tag: str


@dataclasses.dataclass(frozen=True)
class Excluded:
    tag: str
    file: str | None
    reason: str


@dataclasses.dataclass(frozen=True)
class DumpPlan:
    header: toc.Header
    files: list[DataFile]
    excluded: list[Excluded]


def plan_dump(directory: Path, aggregate_type: str, day: dt.date) -> DumpPlan:
    if not (directory / "toc.dat").is_file():
        raise DumpError(f"{directory} has no toc.dat: not a pg_dump directory-format dump")
    try:
        header, entries = toc.read(directory)
    except toc.TocError as e:
        raise DumpError(f"{directory}/toc.dat: {e}") from e
    if header.format != toc.FORMAT_DIRECTORY:
        raise DumpError(f"{directory}/toc.dat is a pg_dump archive of format {header.format}, not directory (3)")

    present = {p.name: p for p in directory.iterdir() if _DATA_FILE.match(p.name)}
    by_stem = {name.removesuffix(".gz"): path for name, path in present.items()}
    data_entries = toc.data_files(entries)
    unlisted = sorted(set(by_stem) - set(data_entries))
    if unlisted:
        raise DumpError(f"{directory}: data file(s) {unlisted} are not in toc.dat; the dump is not one pg_dump's")
    missing = sorted(set(data_entries) - set(by_stem))
    if missing:
        raise DumpError(f"{directory}: toc.dat names data file(s) {missing} that are not there; the dump is incomplete")

    definitions = {e.tag: e.defn or "" for e in entries if e.desc == "TABLE"}
    files, excluded = [], []
    for stem, entry in sorted(data_entries.items(), key=lambda item: item[1].dump_id):
        tag = entry.tag or ""
        try:
            table = parse_table_name(tag, aggregate_type, day)
        except TableNameError as e:
            excluded.append(Excluded(tag, by_stem[stem].name, str(e)))
            continue
        reason = _columns_problem(entry, definitions.get(tag, ""))
        if reason:
            excluded.append(Excluded(tag, by_stem[stem].name, reason))
            continue
        files.append(DataFile(by_stem[stem], table, tag))
    return DumpPlan(header, files, excluded)


def _columns_problem(entry: toc.Entry, definition: str) -> str | None:
    if entry.namespace != "public":
        return f"{entry.namespace}.{entry.tag} is not in schema public"
    if not _COLUMNS.search(definition):
        return f"{entry.tag} does not have exactly the columns (dimensions jsonb, histogram bigint[])"
    if not (entry.copy_stmt or "").startswith(f"COPY public.{entry.tag} (dimensions, histogram) FROM stdin"):
        return f"{entry.tag}'s data is not COPY (dimensions, histogram): {entry.copy_stmt!r}"
    return None
