"""aggregates/dump: one day's tables of one type, dumped by the real pg_dump into the object store."""

import dataclasses
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from ci_assets.defs.aggregates import dump_store, pg_dump
from ci_assets.defs.aggregates.names import dump_pattern
from ci_assets.defs.aggregates.partitions import PARTITIONS, split_key
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource

GROUP = "aggregates"
OWNERS = ["team:data-platform"]
DUMP_KEY = dg.AssetKey(["aggregates", "dump"])


@dataclasses.dataclass(frozen=True)
class Dumped:
    key: str
    status: str  # dumped | skipped | empty
    note: str
    location: str
    tables: int = 0
    bytes: int = 0


def _dump_partition(
    key: str, source: AggregatesSource, store: ObjectStoreResource, dsn: str, binary: pg_dump.PgDump
) -> Dumped:
    day, aggregate_type = split_key(key)
    bucket, prefix = source.bucket, source.dump_prefix(aggregate_type, f"{day:%Y%m%d}")
    location = dump_store.location(store, bucket, prefix)
    files = dump_store.listing(store, bucket, prefix)
    pattern = dump_pattern(aggregate_type, day)
    if dump_store.is_complete(store, bucket, prefix, files):
        return Dumped(key, "skipped", "a complete dump is already there", location)
    matched = pg_dump.matching_tables(dsn, pattern)
    if not matched:
        return Dumped(key, "empty", dump_store.write_empty_note(store, bucket, prefix, pattern), location)
    with tempfile.TemporaryDirectory(prefix="ci-assets-pg-dump-") as tmp:
        out = Path(tmp) / "dump"
        pg_dump.dump(binary, dsn, pattern, out)
        uploaded = dump_store.upload_dump(store, bucket, prefix, out, files)
    if dump_store.EMPTY in files:
        store.delete(bucket, prefix + dump_store.EMPTY)
    return Dumped(key, "dumped", f"{len(matched)} table(s)", location, len(matched), uploaded)


@dg.asset(
    key=DUMP_KEY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "s3"},
    partitions_def=PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "`pg_dump --format directory --table '<type>_*_<yyyymmdd>*'` of mozaggregator's database "
        "into `aggregates/dumps/<type>/<yyyymmdd>/` (toc.dat + NNNN.dat.gz). A complete dump is "
        "not made again; a day without tables gets an EMPTY.json note."
    ),
)
def dump(
    context: dg.AssetExecutionContext, aggregates_source: AggregatesSource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    dsn = aggregates_source.uri()
    server = pg_dump.server_major(dsn)
    binary = pg_dump.choose(server, aggregates_source.pg_dump)
    context.log.info(f"dumping PostgreSQL {server} with {binary.describe()}")
    bucket = aggregates_source.bucket
    object_store.create_bucket(bucket)

    def one(key: str) -> Dumped:
        return _dump_partition(key, aggregates_source, object_store, dsn, binary)

    # pg_dump mostly waits on the server and the disk: a range's days are dumped side by side.
    with ThreadPoolExecutor(max_workers=aggregates_source.dump_concurrency) as pool:
        outcomes = list(pool.map(one, context.partition_keys))
    counts = {"dumped": 0, "skipped": 0, "empty": 0}
    for outcome in outcomes:
        counts[outcome.status] += 1
        if outcome.status == "empty":  # the note a user looks for on that partition (events cost a write each)
            context.log_event(
                dg.AssetObservation(
                    asset_key=DUMP_KEY,
                    partition=outcome.key,
                    metadata={"status": outcome.status, "note": outcome.note, "location": outcome.location},
                )
            )
    by_partition = {o.key: {"status": o.status, "note": o.note} for o in outcomes[:400]}
    tables, uploaded = sum(o.tables for o in outcomes), sum(o.bytes for o in outcomes)
    return dg.MaterializeResult(
        metadata={
            "pg_dump": binary.describe(),
            "server_version": server,
            "partitions_dumped": counts["dumped"],
            "partitions_skipped_complete": counts["skipped"],
            "partitions_without_tables": counts["empty"],
            "tables_dumped": tables,
            "bytes_uploaded": uploaded,
            "by_partition": dg.MetadataValue.json(by_partition),
        }
    )
