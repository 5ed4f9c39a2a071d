"""One asset per ActiveData bucket: the records of the files that arrived on a day."""

import datetime as dt

import dagster as dg
import polars as pl

from ci_assets.defs.activedata.buckets import CONTENTS, PREFIX, bucket_names, short_name
from ci_assets.defs.activedata.contracts import CONTRACT, PREFIXED
from ci_assets.defs.activedata.day_files import read_day_files
from ci_assets.defs.activedata.partitions import ARRIVAL_DAYS
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets.lib import contract_type, contracts, quarantine, reconciliation
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.inventory import KeyInventory
from ci_assets.lib.lake import lake_source
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_frame_schema, fields_schema
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

GROUP = "activedata"
QUARANTINE_SOURCE = "activedata"
SCHEMA = fields_frame_schema(CONTRACT.fields)
CHECKS = {
    "id_starts_with_file_key": "Every record's `_id` starts with its file's key (the others are quarantined).",
    "id_unique_in_partition": "No `_id` arrived twice on the day (a repeat is stored once and counted as duplicate).",
}
SAMPLE = 20
INVENTORY = KeyInventory("activedata")


BUGZILLA = "Bugzilla bug snapshots (identity: [bug_id, modified_ts])"


def _contents(bucket: str | None) -> str:
    return BUGZILLA if bucket is None else CONTENTS.get(bucket.removeprefix(PREFIX), "ActiveData records")


def _description(bucket: str | None) -> str:
    where = f"`s3://{bucket}`" if bucket else "the Bugzilla bucket (`activedata_settings.bugzilla_bucket`)"
    return (
        f"{_contents(bucket)}, from {where}, by the day "
        "the files arrived. Keys are ETL lineages (`tc.1623116:162311556.34.json.gz`: ids joined by `.` for a "
        "derived step, `:` for a batch); each file is gzipped JSON, one record a line, each `_id` prefixed by "
        "the file's key."
    )


def source_entry(bucket: str | None, asset_path: list[str]) -> dict[str, object]:
    """The registry entry (sources.json) of a bucket's records as the platform stores them."""
    if bucket is None:
        return lake_source("activedata-bugzilla", asset_path, ["arrival_day"], BUGZILLA)
    name = f"activedata-{bucket.removeprefix(PREFIX)}"
    return lake_source(name, asset_path, ["arrival_day"], f"{_contents(bucket)}, from s3://{bucket}")


def _store_days(
    source: str,
    days: list[dt.date],
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    activedata_settings: ActiveDataSettings,
    asset_key: dg.AssetKey,
):
    """Read the days' files, yield the records (the IO manager stores them), then mark the keys."""
    with postgres.connect() as conn:
        INVENTORY.ensure_schema(conn)
        rows = INVENTORY.keys_for_days(conn, source, days)
    # A day is read whole each time (its partition is replaced whole), whatever the cache says.
    files = [(r.arrival_day, r.key, r.etag) for r in rows]
    day_files = read_day_files(object_store, source, files, activedata_settings.download_threads, SCHEMA)
    records, rejected, gone = day_files.records, day_files.rejected, day_files.gone
    frame, violations = contracts.enforce(CONTRACT, records, days)
    repeats, unique = records.clear(), records
    if any(v.rule == contracts.UNIQUE for v in violations):
        # An `_id` that arrived twice on a day is stored once (the first read, in key order); the
        # check below still names every repeat, since the source should not send them. (Looked
        # for only when the contract's key broke: a day without repeats is screened once.)
        repeats = records.filter(pl.struct("arrival_day", "_id").is_duplicated())
        unique = records.unique(["arrival_day", "_id"], keep="first", maintain_order=True)
        frame, violations = contracts.enforce(CONTRACT, unique, days)
    broken = contracts.rejections(
        unique,
        violations,
        locate=lambda row: f"s3://{source}/{row['key']}#L{row['line']}",
        partition=lambda row: str(row["arrival_day"]),
    )
    foreign = [v.row for v in violations if v.rule == PREFIXED.name]
    foreign_rows = unique[foreign] if foreign else unique.clear()
    # A record is one input; a file that could not be read (gone, or a key that breaks the
    # convention) counts once.
    tally = reconciliation.Tally(
        received=records.height + len(rejected) + gone,
        accepted=frame.height,
        duplicate=records.height - unique.height,
        rejected=len(rejected) + unique.height - frame.height,
        ignored=gone,
    )
    detail = {"files": len(files), "files_gone": gone}
    detail["rejected_by_rule"] = dg.MetadataValue.json(contracts.rejected_by_rule(violations))
    yield dg.Output(frame, metadata=reconciliation.metadata(tally, detail))
    # Only once the partition is stored (the IO manager has run by now) are its keys ingested: a
    # run killed before that leaves them pending, and the sensor's next look still sees them.
    with postgres.connect() as conn:
        quarantine.quarantine(conn, QUARANTINE_SOURCE, rejected + broken)
        INVENTORY.mark(conn, source, day_files.states)
    yield reconciliation.check_result(asset_key, tally)
    yield dg.AssetCheckResult(
        check_name="id_starts_with_file_key",
        passed=foreign_rows.is_empty(),
        metadata={
            "records": foreign_rows.height,
            "sample": dg.MetadataValue.json(foreign_rows.head(SAMPLE).select("_id", "key").to_dicts()),
        },
    )
    yield dg.AssetCheckResult(
        check_name="id_unique_in_partition",
        passed=repeats.is_empty(),
        metadata={
            "records": repeats.height,
            "sample": dg.MetadataValue.json(repeats.head(SAMPLE).select("_id", "key", "line").to_dicts()),
        },
    )


def bucket_asset(bucket: str | None, name: str | None = None) -> dg.AssetsDefinition:
    """The records of one bucket; `bucket=None` is Bugzilla's, whose bucket is a setting (the seed names none)."""
    asset_key = dg.AssetKey([GROUP, name or short_name(bucket or "")])

    @dg.asset(
        key=asset_key,
        group_name=GROUP,
        owners=OWNERS,
        kinds={"s3", "parquet"},
        partitions_def=ARRIVAL_DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="lake_io_manager",
        metadata={
            **({"bucket": bucket} if bucket else {}),
            "source": source_entry(bucket, asset_key.path),
            "partition_expr": "arrival_day",
            "dagster/column_schema": fields_schema(CONTRACT.fields),
        },
        check_specs=[
            reconciliation.check_spec(asset_key),
            *(dg.AssetCheckSpec(name, asset=asset_key, description=d) for name, d in CHECKS.items()),
        ],
        description=_description(bucket),
        # The contract is the asset's type: a frame that breaks it fails the step before anything is stored.
        dagster_type=contract_type.dagster_type(CONTRACT),
    )
    @transient_retries()
    def records(
        context: dg.AssetExecutionContext,
        object_store: ObjectStoreResource,
        postgres: PostgresResource,
        activedata_settings: ActiveDataSettings,
    ):
        source = bucket or activedata_settings.bugzilla_bucket
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        with postgres.connect(autocommit=True) as held, INVENTORY.days_held(held, source, days):
            yield from _store_days(source, days, object_store, postgres, activedata_settings, asset_key)

    return records


BUCKET_ASSETS = {bucket: bucket_asset(bucket) for bucket in bucket_names()}
# Bugzilla's snapshots follow the same convention; the seed names no bucket for them.
BUGZILLA_ASSET = bucket_asset(None, name="bugzilla")


def asset_for_bucket(bucket: str, settings: ActiveDataSettings) -> dg.AssetsDefinition | None:
    """The asset that holds a watched bucket's records (None for a bucket the platform has no asset for)."""
    return BUGZILLA_ASSET if bucket == settings.bugzilla_bucket else BUCKET_ASSETS.get(bucket)
