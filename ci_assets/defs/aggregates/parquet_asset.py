"""aggregates/parquet: a dump directory converted to the 13-column table, one Parquet file per partition."""

import dataclasses
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.defs.aggregates import dump_store
from ci_assets.defs.aggregates.contracts import CONTRACT
from ci_assets.defs.aggregates.convert import Conversion, convert, empty_frame
from ci_assets.defs.aggregates.copy_text import DataFileError
from ci_assets.defs.aggregates.dump_asset import DUMP_KEY, GROUP
from ci_assets.defs.aggregates.dump_plan import DumpError, plan_dump
from ci_assets.defs.aggregates.names import BOOKKEEPING_TABLES
from ci_assets.defs.aggregates.partitions import PARTITIONS, split_key
from ci_assets.defs.aggregates.rows import FIELDS
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.aggregates.toc import TocError
from ci_assets.lib import contract_type, contracts, quarantine, reconciliation
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.lake import lake_source
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.scratch import owned_name, sweep
from ci_assets.lib.storage.frames import fields_schema
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.streamed import ParquetFile

PARQUET_KEY = dg.AssetKey(["aggregates", "parquet"])
QUARANTINE_SOURCE = "aggregates"
SMALL_DUMP_BYTES = 16 << 20
MAX_LISTED = 400  # partitions detailed in a run's metadata
SCRATCH_MARKER = "aggregates-"  # a conversion's Parquet before the lake takes it
CHECKS = {
    "rows_keep_contract": "No converted row broke the contract (channel, type, `aggregate` a JSON array of "
    "integers, `ingest_date` the partition's day); any that did were quarantined with their rule.",
    "table_names_follow_convention": "No dumped table outside the naming pattern passes silently; each is listed.",
    "no_bookkeeping_tables": "table_update_dates and filter_options are never converted as aggregates.",
}


@dataclasses.dataclass
class PartitionOutcome:
    key: str
    file: str
    conversion: Conversion | None  # None: a day without tables
    broken: pl.DataFrame  # converted rows that broke the contract (not in the file), with their rules
    note: str
    location: str  # the dump's folder, for quarantine locators

    @property
    def accepted(self) -> int:
        return self.conversion.rows if self.conversion else 0


@dataclasses.dataclass(frozen=True)
class Dump:
    key: str
    prefix: str
    files: dict[str, int]  # file name -> size

    @property
    def bytes(self) -> int:
        return sum(self.files.values())


def _find_dump(key: str, source: AggregatesSource, store: ObjectStoreResource) -> Dump:
    day, aggregate_type = split_key(key)
    prefix = source.dump_prefix(aggregate_type, f"{day:%Y%m%d}")
    return Dump(key, prefix, dump_store.listing(store, source.bucket, prefix))


def _convert_partition(
    dump: Dump, source: AggregatesSource, store: ObjectStoreResource, scratch: Path
) -> PartitionOutcome:
    day, aggregate_type = split_key(dump.key)
    location = dump_store.location(store, source.bucket, dump.prefix)
    if dump_store.TOC not in dump.files and dump_store.EMPTY not in dump.files:
        raise dg.Failure(f"no dump at {location}: materialize {DUMP_KEY.to_user_string()} for {dump.key} first")
    out = str(scratch / owned_name(SCRATCH_MARKER, f"{day:%Y%m%d}-{aggregate_type}.parquet"))
    if dump_store.TOC not in dump.files:
        empty_frame().write_parquet(out)
        note = dump_store.read_empty_note(store, source.bucket, dump.prefix)
        return PartitionOutcome(dump.key, out, None, _NONE_BROKEN, note, location)
    try:
        with dump_store.local_copy(store, source.bucket, dump.prefix, dump.files) as directory:
            plan = plan_dump(directory, aggregate_type, day)
            conversion = convert(plan, day, Path(out), workers=source.workers)
    except (DataFileError, TocError, DumpError) as e:
        Path(out).unlink(missing_ok=True)
        # In a month's backfill, the failure says which day and which dump broke, not only the file.
        raise dg.Failure(
            description=f"partition {dump.key}: the dump at {location} cannot be read: {e}",
            metadata={"partition": dump.key, "dump": location, "error": f"{type(e).__name__}: {e}"},
        ) from e
    except BaseException:
        Path(out).unlink(missing_ok=True)  # a failed conversion leaves no scratch file behind
        raise
    note = f"{len(plan.files)} table(s) converted"
    return PartitionOutcome(dump.key, out, conversion, conversion.broken, note, location)


_NONE_BROKEN = pl.DataFrame()


def _rejections(outcome: PartitionOutcome) -> list[quarantine.Rejected]:
    conversion = outcome.conversion
    if conversion is None:
        return []
    rejected = [
        quarantine.Rejected(
            f"{outcome.location}{t.file}#L{b.line}", b.reason, b.raw, {"table": t.tag, "line": b.line}, outcome.key
        )
        for t in conversion.tables
        for b in t.bad
    ]
    rejected += [
        quarantine.Rejected(f"{outcome.location}{x.file or x.tag}", x.reason, None, {"table": x.tag}, outcome.key)
        for x in conversion.excluded
    ]
    for row in outcome.broken.iter_rows(named=True):
        rules = row.pop(contracts.BROKEN)
        table = "_".join(str(row[c]) for c in ("aggregate_type", "channel", "version", "ds_nodash"))
        values = {rule: row.get(rule.split(":")[0]) for rule in rules}
        reason = "; ".join(f"{rule} (value {contracts.text(value)})" for rule, value in values.items())
        raw = json.dumps(row, default=str).encode()
        rejected.append(
            quarantine.Rejected(
                f"{outcome.location}{table}", reason, raw, {"table": table, "rules": rules}, outcome.key
            )
        )
    return rejected


def _observation(outcome: PartitionOutcome) -> dict[str, Any]:
    c = outcome.conversion
    meta: dict[str, Any] = {"note": outcome.note}
    if c is not None:
        meta |= {
            "tables": len(c.tables),
            "copy_rows": c.copy_rows,
            "rows": outcome.accepted,
            "rows_quarantined": c.bad_rows + outcome.broken.height,
            "rejected_by_rule": contracts.broken_by_rule(outcome.broken),
            "tables_quarantined": dg.MetadataValue.json([dataclasses.asdict(x) for x in c.excluded]),
        }
    return meta


def tally(outcome: PartitionOutcome) -> reconciliation.Tally:
    """A partition's COPY rows: written, or quarantined with their reason (no row is skipped)."""
    conversion = outcome.conversion
    if conversion is None:
        return reconciliation.Tally()
    return reconciliation.Tally(
        received=conversion.copy_rows, accepted=outcome.accepted, rejected=conversion.bad_rows + outcome.broken.height
    )


def _checks(outcomes: list[PartitionOutcome]) -> list[dg.AssetCheckResult]:
    converted = [o for o in outcomes if o.conversion is not None]
    excluded = [
        dataclasses.asdict(x) | {"partition": o.key} for o in converted if o.conversion for x in o.conversion.excluded
    ]
    bookkeeping = [x for x in excluded if x["tag"] in BOOKKEEPING_TABLES]
    converted_bookkeeping = [
        t.tag for o in converted if o.conversion for t in o.conversion.tables if t.tag in BOOKKEEPING_TABLES
    ]
    broken = {o.key: contracts.broken_by_rule(o.broken) for o in outcomes if o.broken.height}
    parts = {o.key: tally(o) for o in outcomes}
    return [
        reconciliation.check_result(PARQUET_KEY, reconciliation.Tally.total(parts.values()), parts),
        dg.AssetCheckResult(
            check_name="rows_keep_contract",
            passed=not broken,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rejected_by_rule_by_partition": dg.MetadataValue.json(dict(list(broken.items())[:MAX_LISTED]))},
        ),
        dg.AssetCheckResult(
            check_name="table_names_follow_convention",
            passed=not excluded,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantined_tables": dg.MetadataValue.json(excluded[:200]), "count": len(excluded)},
        ),
        dg.AssetCheckResult(
            check_name="no_bookkeeping_tables",
            passed=not converted_bookkeeping,
            metadata={
                "converted": dg.MetadataValue.json(converted_bookkeeping),
                "found_in_dump_and_refused": dg.MetadataValue.json(bookkeeping),
            },
        ),
    ]


@dg.asset(
    key=PARQUET_KEY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet", "polars"},
    partitions_def=PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[DUMP_KEY],
    io_manager_key="lake_io_manager",
    # The contract is the asset's type: a converted file with other columns or types is never stored.
    dagster_type=contract_type.dagster_type(CONTRACT),
    metadata={
        "partition_expr": {"day": "ingest_date", "type": "aggregate_type"},
        "dagster/column_schema": fields_schema(FIELDS),
        "source": lake_source(
            "aggregates-parquet",
            PARQUET_KEY.path,
            ["ingest_date", "aggregate_type"],
            "mozaggregator's aggregates as the 13 columns of the BigQuery tables, per day and type",
        ),
    },
    check_specs=[
        reconciliation.check_spec(PARQUET_KEY),
        *(dg.AssetCheckSpec(name, asset=PARQUET_KEY, description=d) for name, d in CHECKS.items()),
    ],
    description=(
        "The dump's tables as the 13 columns of the BigQuery tables (seed 004), streamed from the "
        "gzip files table by table. toc.dat maps each data file to its table; rows that cannot "
        "convert and tables outside the naming pattern are quarantined with their reason."
    ),
)
@transient_retries()
def parquet(
    context: dg.AssetExecutionContext,
    aggregates_source: AggregatesSource,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
):
    scratch = aggregates_source.scratch()
    sweep(scratch, SCRATCH_MARKER)  # what a killed run's conversions left
    outcomes: list[PartitionOutcome] = []
    futures: list[Future[PartitionOutcome]] = []
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            dumps = list(pool.map(lambda k: _find_dump(k, aggregates_source, object_store), context.partition_keys))
        # Small days are mostly fixed costs (reading the TOC, starting the writer): a range of
        # them converts two at a time. A big day has the machine to itself, so memory stays bounded.
        parallel = 2 if max((d.bytes for d in dumps), default=0) <= SMALL_DUMP_BYTES else 1
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(_convert_partition, d, aggregates_source, object_store, scratch) for d in dumps]
            outcomes = [future.result() for future in futures]
        with postgres.connect() as conn:
            quarantine.ensure_table(conn)
            quarantine.quarantine(conn, QUARANTINE_SOURCE, [r for o in outcomes for r in _rejections(o)])
    except BaseException:
        for future in futures:  # converted files nobody will take over
            if future.done() and future.exception() is None:
                Path(future.result().file).unlink(missing_ok=True)
        raise
    # Every event is a write to the instance's storage: one observation for each partition
    # that has something to say (no tables, quarantined rows or tables), not for each of them.
    for outcome in outcomes:
        if (
            outcome.conversion is None
            or outcome.conversion.bad_rows
            or outcome.conversion.excluded
            or outcome.broken.height
        ):
            context.log_event(
                dg.AssetObservation(asset_key=PARQUET_KEY, partition=outcome.key, metadata=_observation(outcome))
            )
    by_partition = {o.key: {k: v for k, v in _observation(o).items() if k != "tables_quarantined"} for o in outcomes}
    total = reconciliation.Tally.total(tally(o) for o in outcomes)
    detail = {
        "copy_rows": total.received,
        "rows_quarantined": total.rejected,
        "rejected_by_rule": dg.MetadataValue.json(
            contracts.broken_by_rule(pl.concat([o.broken for o in outcomes if o.broken.height] or [_NONE_BROKEN]))
        ),
        "tables_quarantined": sum(len(o.conversion.excluded) for o in outcomes if o.conversion),
        "partitions_without_tables": sum(1 for o in outcomes if o.conversion is None),
        "by_partition": dg.MetadataValue.json(dict(list(by_partition.items())[:MAX_LISTED])),
    }
    yield dg.Output({o.key: ParquetFile(o.file) for o in outcomes}, metadata=reconciliation.metadata(total, detail))
    yield from _checks(outcomes)
