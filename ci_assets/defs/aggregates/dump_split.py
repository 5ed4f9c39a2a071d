"""One pg_dump of several days, split into one directory dump per day.

pg_dump's fixed cost (start-up, catalog queries) is paid once for a batch of days; each
day's directory then gets the entries of its own tables (TABLE, TABLE DATA and what
depends on them, such as the GIN index) plus the archive-wide ones (encoding, search
path, ...), copied byte for byte from the one toc.dat, and its tables' data files. Each
is a directory dump that pg_restore reads as if pg_dump had made it for that day alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from ci_assets.defs.aggregates import toc

_TABLE_ENTRIES = ("TABLE", "TABLE DATA")


def split_dump(directory: Path, tables_by_day: Mapping[str, set[str]], out: Path) -> dict[str, Path]:
    """`out/<day>/` for each day of `tables_by_day` (day -> the table names its pattern matched)."""
    data = (directory / toc.TOC_FILE).read_bytes()
    header, entries = toc.parse(data)
    all_tables = set().union(*tables_by_day.values()) if tables_by_day else set()
    days = {}
    for day, tables in tables_by_day.items():
        dropped = {
            e.dump_id for e in entries if e.desc in _TABLE_ENTRIES and e.tag in all_tables and e.tag not in tables
        }
        changed = True
        while changed:  # whatever depends on a dropped entry goes too (indexes on other days' tables)
            more = {e.dump_id for e in entries if e.dump_id not in dropped and dropped & set(e.dependencies)}
            changed = bool(more)
            dropped |= more
        keep = [e for e in entries if e.dump_id not in dropped]
        target = out / day
        target.mkdir(parents=True)
        for entry in keep:
            if entry.filename:
                name = next(n for n in (f"{entry.filename}.gz", entry.filename) if (directory / n).exists())
                _link_or_copy(directory / name, target / name)
        (target / toc.TOC_FILE).write_bytes(toc.subset(data, header, entries, keep))
        days[day] = target
    return days


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
