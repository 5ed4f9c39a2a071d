"""One dump directory becomes one Parquet file of the 13-column output, streamed.

Worker threads each take a data file, decompress it (ISA-L, which releases the GIL)
and parse it chunk by chunk (`_copy_rows`, likewise); a bounded queue hands the rows to
the writer (pyarrow's, which writes each chunk's dictionaries as they are), which appends
them to one Parquet file, a row group per chunk. Each chunk is screened
against the tables' contract on its way: rows that break it are kept aside, with their rules,
for the quarantine. Memory is bounded
by workers x chunk size, whatever the day's size. Any unreadable file fails the whole
conversion: the Parquet file is only kept when every table converted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ci_assets.defs.aggregates.contracts import AGGREGATE_IS_AN_INTEGER_ARRAY, CONTRACT
from ci_assets.defs.aggregates.copy_text import CHUNK_BYTES, checksummed, line_chunks
from ci_assets.defs.aggregates.dump_plan import DataFile, DumpPlan, Excluded
from ci_assets.defs.aggregates.rows import ARROW_SCHEMA, OUTPUT_SCHEMA, BadRow, as_frame, parse_chunk
from ci_assets.lib import contracts
from ci_assets.lib.freed_memory import keep_freed_memory

_DONE = object()


@dataclasses.dataclass(frozen=True)
class TableResult:
    tag: str
    file: str
    copy_rows: int  # rows in the data file (its lines, without the end-of-data line)
    rows: int  # rows written
    bad: list[BadRow]
    broken: pl.DataFrame  # converted rows that broke the contract (not written), with their rules


@dataclasses.dataclass(frozen=True)
class Conversion:
    tables: list[TableResult]
    excluded: list[Excluded]

    @property
    def copy_rows(self) -> int:
        return sum(t.copy_rows for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def bad_rows(self) -> int:
        return sum(len(t.bad) for t in self.tables)

    @property
    def broken(self) -> pl.DataFrame:
        parts = [t.broken for t in self.tables if t.broken.height]
        return pl.concat(parts) if parts else pl.DataFrame()


def empty_frame() -> pl.DataFrame:
    return OUTPUT_SCHEMA.to_frame()


def convert(
    plan: DumpPlan,
    ingest_date: dt.date,
    out: Path,
    workers: int = 3,
    chunk_bytes: int = CHUNK_BYTES,
    compression: str = "uncompressed",
    contract: contracts.Contract | None = CONTRACT,
) -> Conversion:
    """Write `plan`'s tables to the Parquet file `out`; raises (and leaves no file) if any is unreadable.
    `contract=None` writes every converted row unscreened, as the converter did before contracts
    (for measuring what the contract costs)."""
    keep_freed_memory()
    frames: queue.Queue = queue.Queue(maxsize=workers)
    stop = threading.Event()

    def one_file(data_file: DataFile) -> TableResult:
        rows, lines, bad, broken = 0, 0, [], []
        for chunk in line_chunks(data_file.path, chunk_bytes):
            rows_of_chunk, chunk_bad = parse_chunk(
                chunk, data_file.table, ingest_date, lines + 1, printed_by_postgres=checksummed(data_file.path)
            )
            lines += rows_of_chunk.num_rows + len(chunk_bad)
            bad.extend(chunk_bad)
            # The contract, on the chunk in memory (the file is never read again to check it).
            if contract is not None:
                # parse_chunk makes every aggregate from a histogram it proved keeps the rule.
                proven = [AGGREGATE_IS_AN_INTEGER_ARRAY] if contract is CONTRACT else []
                ok, chunk_broken = contracts.sieve(contract, as_frame(rows_of_chunk), [ingest_date], proven)
                if ok is not None:
                    rows_of_chunk = rows_of_chunk.filter(ok.to_arrow())
                    broken.append(chunk_broken)
            rows += rows_of_chunk.num_rows
            while not stop.is_set():
                try:
                    frames.put(rows_of_chunk, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                break
        return TableResult(
            data_file.tag, data_file.path.name, lines, rows, bad, pl.concat(broken) if broken else pl.DataFrame()
        )

    def produce() -> Iterator[TableResult]:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aggregates-convert") as pool:
            try:
                # Largest first: the last file to finish is then a small one, not a lone big one.
                yield from pool.map(one_file, sorted(plan.files, key=lambda f: -f.path.stat().st_size))
            finally:
                stop.set()

    results: list[TableResult] = []
    error: list[BaseException] = []

    def run_producers() -> None:
        try:
            results.extend(produce())
        except Exception as e:  # noqa: BLE001 - re-raised in the caller's thread below
            error.append(e)
        finally:
            frames.put(_DONE)

    producer = threading.Thread(target=run_producers, name="aggregates-producers")
    producer.start()
    try:
        _write(frames, out, compression)
    except BaseException:
        stop.set()
        out.unlink(missing_ok=True)
        raise
    finally:
        producer.join()
    if error:
        out.unlink(missing_ok=True)
        raise error[0]
    return Conversion(results, plan.excluded)


def _write(frames: queue.Queue, out: Path, compression: str) -> None:
    # Every column but the aggregate arrives dictionary-encoded: the writer keeps each chunk's
    # dictionary for its row group and encodes the codes, hashing nothing. `store_schema=False`
    # leaves them plain UTF-8 strings and dates to every reader (no Arrow dictionary type in the
    # file's metadata).
    encoded = [f.name for f in ARROW_SCHEMA if pa.types.is_dictionary(f.type)]
    with pq.ParquetWriter(
        out,
        ARROW_SCHEMA,
        compression="none" if compression == "uncompressed" else compression,
        use_dictionary=encoded,
        write_statistics=False,
        store_schema=False,
    ) as writer:
        while (rows := frames.get()) is not _DONE:
            if rows.num_rows:
                writer.write_table(rows, row_group_size=rows.num_rows)
