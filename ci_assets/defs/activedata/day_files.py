"""A day's files read into one frame of records, with what could not be read.

Threads download; each body goes to the line parser (a process of its own: line_parser.py) as
it arrives, and the frame is built from the columns it answers with, natively.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import polars as pl

from ci_assets.defs.activedata.keys import KeyConventionError, parse_key
from ci_assets.defs.activedata.line_parser import Columns, LineParser
from ci_assets.lib import quarantine
from ci_assets.lib.storage.object_store import ObjectNotFoundError
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource

GONE = "gone"


@dataclasses.dataclass
class DayFiles:
    records: pl.DataFrame  # every record read, in key order (repeats included)
    rejected: list[quarantine.Rejected]  # bad lines and files whose key breaks the convention
    states: list[tuple[str, str | None, str]]  # (key, etag, ingested | gone | rejected) for the inventory
    gone: int


def _fetch(store: ObjectStoreResource, bucket: str, key: str) -> bytes | None:
    try:
        return store.get_bytes(bucket, key)
    except ObjectNotFoundError:
        return None


def read_day_files(
    store: ObjectStoreResource,
    bucket: str,
    files: list[tuple[dt.date, str, str | None]],
    threads: int,
    parsers: int,
    schema: pl.Schema,
) -> DayFiles:
    """`files`: (arrival day, key, etag), in the order the records keep."""
    import pyarrow as pa  # here, not at the top: loading the code location (every run's process) skips its 0.4 s

    read: dict[int, Columns | str] = {}
    with LineParser(parsers) as parser:

        def fetch(n: int, key: str) -> None:
            # The thread that downloaded a body sends it on: no turn of the main thread per file.
            body = _fetch(store, bucket, key)
            if body is None:
                read[n] = GONE
            else:
                parser.submit(n, body)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            fetches = []
            for n, (_, key, _) in enumerate(files):
                try:
                    parse_key(key)
                except KeyConventionError as e:
                    read[n] = f"key breaks the convention: {e}"  # never downloaded
                    continue
                fetches.append(pool.submit(fetch, n, key))
            for done in as_completed(fetches):
                done.result()
        read |= parser.results()
    rejected, states, gone = [], [], 0
    ids, lines, texts, keys, days, counts = [], [], [], [], [], []
    for n, (day, key, etag) in enumerate(files):
        found = read[n]
        if isinstance(found, str):
            gone += found == GONE
            states.append((key, etag, "gone" if found == GONE else "rejected"))
            if found != GONE:
                rejected.append(quarantine.Rejected(f"s3://{bucket}/{key}", found, None, {}, str(day)))
            continue
        states.append((key, etag, "ingested"))
        ids.append(_strings(found.ids, found.id_offsets))
        texts.append(_strings(found.records, found.record_offsets))
        lines.append(pa.Array.from_buffers(pa.int64(), found.count, [None, pa.py_buffer(found.lines)]))
        if found.count:
            keys.append(key)
            days.append(day)
            counts.append(found.count)
        rejected += [
            quarantine.Rejected(f"s3://{bucket}/{key}#L{line}", reason, raw, {"line": line}, str(day))
            for line, reason, raw in found.bad
        ]
    # A file's key and day, repeated natively for each of its records (not a Python object per record).
    repeat = pl.Series("n", counts, dtype=pl.UInt32)
    frame = pl.DataFrame(
        {
            "_id": pl.Series(pa.chunked_array(ids, pa.large_string())),
            "key": pl.Series(keys, dtype=pl.String).repeat_by(repeat).explode(),
            "line": pl.Series(pa.chunked_array(lines, pa.int64())),
            "arrival_day": pl.Series(days, dtype=pl.Date).repeat_by(repeat).explode(),
            "record": pl.Series(pa.chunked_array(texts, pa.large_string())),
        }
    )
    return DayFiles(frame.select(pl.col(c).cast(t) for c, t in schema.items()), rejected, states, gone)


def _strings(data: bytes, offsets: bytes) -> Any:
    import pyarrow as pa

    return pa.LargeStringArray.from_buffers(len(offsets) // 8 - 1, pa.py_buffer(offsets), pa.py_buffer(data))
