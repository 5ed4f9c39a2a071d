"""aggregates/dump: one day's tables of one type, dumped by the real pg_dump into the object store.

A run's days that have no complete dump yet are dumped in batches: one pg_dump per
batch of up to a month of one type, split into one directory dump per day
(`dump_split.py`), so a year's backfill starts pg_dump a dozen times, not 365.
"""

import dataclasses
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from ci_assets.defs.aggregates import dump_store, pg_dump
from ci_assets.defs.aggregates.dump_split import split_dump
from ci_assets.defs.aggregates.names import dump_pattern
from ci_assets.defs.aggregates.partitions import PARTITIONS, split_key
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.lake import rooted_source
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import table_schema
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource

GROUP = "aggregates"
DUMP_KEY = dg.AssetKey(["aggregates", "dump"])
BATCH_DAYS = 31
MAX_LISTED = 400


@dataclasses.dataclass
class Partition:
    key: str
    aggregate_type: str
    pattern: str
    prefix: str
    location: str
    files: dict[str, int]
    status: str = ""  # dumped | skipped | empty
    note: str = ""
    tables: int = 0
    bytes: int = 0


def _state(key: str, source: AggregatesSource, store: ObjectStoreResource) -> Partition:
    day, aggregate_type = split_key(key)
    prefix = source.dump_prefix(aggregate_type, f"{day:%Y%m%d}")
    files = dump_store.listing(store, source.bucket, prefix)
    location = dump_store.location(store, source.bucket, prefix)
    partition = Partition(key, aggregate_type, dump_pattern(aggregate_type, day), prefix, location, files)
    if dump_store.is_complete(store, source.bucket, prefix, files):
        partition.status, partition.note = "skipped", "a complete dump is already there"
    return partition


def _dump_batch(
    batch: list[Partition], source: AggregatesSource, store: ObjectStoreResource, dsn: str, binary: pg_dump.PgDump
) -> None:
    matched = pg_dump.matching_tables(dsn, [p.pattern for p in batch])
    for p in batch:
        if not matched[p.pattern]:
            p.status, p.note = "empty", dump_store.write_empty_note(store, source.bucket, p.prefix, p.pattern)
    wanted = [p for p in batch if matched[p.pattern]]
    if not wanted:
        return
    with tempfile.TemporaryDirectory(prefix="ci-assets-pg-dump-") as tmp:
        whole = Path(tmp) / "dump"
        pg_dump.dump(binary, dsn, [p.pattern for p in wanted], whole)
        days = split_dump(whole, {p.key: set(matched[p.pattern]) for p in wanted}, Path(tmp) / "days")
        for p in wanted:
            p.bytes = dump_store.upload_dump(store, source.bucket, p.prefix, days[p.key], p.files)
            if dump_store.EMPTY in p.files:
                store.delete(source.bucket, p.prefix + dump_store.EMPTY)
            p.tables = len(matched[p.pattern])
            p.status, p.note = "dumped", f"{p.tables} table(s)"


@dg.asset(
    key=DUMP_KEY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "s3"},
    partitions_def=PARTITIONS,
    metadata={
        # A dump is files, not rows: each partition's listing.
        "dagster/column_schema": table_schema(
            {"file": "toc.dat | NNNN.dat.gz | EMPTY.json", "bytes": "int", "table": "text (from toc.dat)"}
        ),
        "source": rooted_source(
            "aggregates-dumps",
            "aggregates_source",
            "",
            ["aggregate_type", "ds_nodash"],
            "pg_dump directory archives of mozaggregator's tables, per aggregate type and day",
        ),
    },
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "`pg_dump --format directory --table '<type>_*_<yyyymmdd>*'` of mozaggregator's database "
        "into `aggregates/dumps/<type>/<yyyymmdd>/` (toc.dat + NNNN.dat.gz). A complete dump is "
        "not made again; a day without tables gets an EMPTY.json note."
    ),
)
@transient_retries()
def dump(
    context: dg.AssetExecutionContext, aggregates_source: AggregatesSource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    dsn = aggregates_source.uri()
    server = pg_dump.server_major(dsn)
    binary = pg_dump.choose(server, aggregates_source.pg_dump)
    context.log.info(f"dumping PostgreSQL {server} with {binary.describe()}")
    object_store.create_bucket(aggregates_source.bucket)
    with ThreadPoolExecutor(max_workers=8) as pool:
        partitions = list(pool.map(lambda k: _state(k, aggregates_source, object_store), context.partition_keys))
    batches = []
    for aggregate_type in sorted({p.aggregate_type for p in partitions}):
        todo = [p for p in partitions if p.aggregate_type == aggregate_type and not p.status]
        batches += [todo[i : i + BATCH_DAYS] for i in range(0, len(todo), BATCH_DAYS)]
    with ThreadPoolExecutor(max_workers=aggregates_source.dump_concurrency) as pool:
        list(pool.map(lambda b: _dump_batch(b, aggregates_source, object_store, dsn, binary), batches))

    counts = {status: sum(p.status == status for p in partitions) for status in ("dumped", "skipped", "empty")}
    for p in partitions:
        if p.status == "empty":  # the note a user looks for on that partition (each event costs a write)
            context.log_event(
                dg.AssetObservation(
                    asset_key=DUMP_KEY,
                    partition=p.key,
                    metadata={"status": p.status, "note": p.note, "location": p.location},
                )
            )
    return dg.MaterializeResult(
        metadata={
            "pg_dump": binary.describe(),
            "server_version": server,
            "pg_dump_runs": len(batches),
            "partitions_dumped": counts["dumped"],
            "partitions_skipped_complete": counts["skipped"],
            "partitions_without_tables": counts["empty"],
            "tables_dumped": sum(p.tables for p in partitions),
            "bytes_uploaded": sum(p.bytes for p in partitions),
            "by_partition": dg.MetadataValue.json(
                {p.key: {"status": p.status, "note": p.note} for p in partitions[:MAX_LISTED]}
            ),
        }
    )
