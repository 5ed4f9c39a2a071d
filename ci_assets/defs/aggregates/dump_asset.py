"""aggregates/dump: one day's tables of one type, dumped by the real pg_dump into the object store."""

import tempfile
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
    counts = {"dumped": 0, "skipped": 0, "empty": 0}
    tables, uploaded = 0, 0
    for key in context.partition_keys:
        day, aggregate_type = split_key(key)
        prefix = aggregates_source.dump_prefix(aggregate_type, f"{day:%Y%m%d}")
        files = dump_store.listing(object_store, bucket, prefix)
        pattern = dump_pattern(aggregate_type, day)
        if dump_store.is_complete(object_store, bucket, prefix, files):
            status, note = "skipped", "a complete dump is already there"
        elif not (matched := pg_dump.matching_tables(dsn, pattern)):
            status, note = "empty", dump_store.write_empty_note(object_store, bucket, prefix, pattern)
        else:
            with tempfile.TemporaryDirectory(prefix="ci-assets-pg-dump-") as tmp:
                out = Path(tmp) / "dump"
                pg_dump.dump(binary, dsn, pattern, out)
                uploaded += dump_store.upload_dump(object_store, bucket, prefix, out, files)
            if dump_store.EMPTY in files:
                object_store.delete(bucket, prefix + dump_store.EMPTY)
            status, note = "dumped", f"{len(matched)} table(s)"
            tables += len(matched)
        counts[status] += 1
        context.log.info(f"{key}: {status} ({note})")
        context.log_event(
            dg.AssetObservation(
                asset_key=DUMP_KEY,
                partition=key,
                metadata={
                    "status": status,
                    "note": note,
                    "location": dump_store.location(object_store, bucket, prefix),
                },
            )
        )
    return dg.MaterializeResult(
        metadata={
            "pg_dump": binary.describe(),
            "server_version": server,
            "partitions_dumped": counts["dumped"],
            "partitions_skipped_complete": counts["skipped"],
            "partitions_without_tables": counts["empty"],
            "tables_dumped": tables,
            "bytes_uploaded": uploaded,
        }
    )
