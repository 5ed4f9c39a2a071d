"""The Firefox-CI tables fed by pulse: tasks_v2 and task_runs_v1."""

import dataclasses
import datetime as dt
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.defs.fxci import placement, schemas
from ci_assets.defs.fxci.contracts import CONTRACTS, PARTITION_COLUMNS, PRIMARY_KEYS
from ci_assets.defs.fxci.drain import drain
from ci_assets.defs.fxci.partitions import DAYS
from ci_assets.lib import contract_type, contracts, first_seen, quarantine, reconciliation
from ci_assets.lib.conventions import FRESH_DAILY, FRESH_HOURLY, OWNERS
from ci_assets.lib.pulse import PulseResource
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_schema
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.target import Target
from ci_assets.lib.storage.writer import TableWriter

GROUP = "fxci"
PROJECT = "moz-fx-data-shared-prod.fxci_derived"

UNSCHEDULED_DDL = """
CREATE SCHEMA IF NOT EXISTS fxci;
CREATE TABLE IF NOT EXISTS fxci.unscheduled_tasks (
    task_id   text PRIMARY KEY,
    exchange  text NOT NULL,
    seen_at   timestamptz NOT NULL DEFAULT now()
);
"""


def table_metadata(table: str, partition_column: str) -> dict[str, object]:
    """What every fxci table declares: its production name, key, partition column and schema."""
    return {
        "table": f"{PROJECT}.{table}",
        "primary_key": PRIMARY_KEYS[table],
        "partition_expr": partition_column,
        "bigquery_schema": schemas.fields(table),
        "dagster/column_schema": fields_schema(schemas.fields(table)),
    }


def table_spec(table: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=["fxci", table],
        group_name=GROUP,
        owners=OWNERS,
        freshness_policy=FRESH_HOURLY,
        kinds={"bigquery", "rabbitmq"},
        partitions_def=DAYS,
        description=description,
        metadata=table_metadata(table, "submission_date"),
    )


TASKS = table_spec("tasks_v2", "One row per task, from the pulse message of its run 0.")
TASK_RUNS = table_spec("task_runs_v1", "One row per task run, from the task-completed/failed/exception pulse messages.")


class DrainConfig(dg.Config):
    max_messages_per_exchange: int = 100_000


UNIQUE_CHECK = "primary_key_is_unique"


ONE_PARTITION_CHECK = "key_in_one_partition"


def unique_check(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    key = ", ".join(PRIMARY_KEYS[asset_key.path[-1]])
    return dg.AssetCheckSpec(UNIQUE_CHECK, asset=asset_key, description=f"({key}) is unique in the partition.")


def daily_table(key: dg.AssetKey, partition_column: str, kinds: set[str], description: str, **extra: Any) -> Any:
    """`dg.asset` for a daily fxci table filled by a step of ours: the table's metadata, its checks
    (primary key, reconciliation), freshness, and a range backfilled as one run asking for each day
    in turn (the IO manager stores each day as if it ran alone, a day without rows as empty)."""
    return dg.asset(
        key=key,
        check_specs=[unique_check(key), reconciliation.check_spec(key)],
        group_name=GROUP,
        owners=OWNERS,
        freshness_policy=FRESH_DAILY,
        kinds=kinds,
        partitions_def=DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="warehouse_io_manager",
        metadata=table_metadata(key.path[-1], partition_column),
        description=description,
        # The contract is the asset's type: a frame that breaks it fails the step before anything is stored.
        dagster_type=contract_type.dagster_type(CONTRACTS[key.path[-1]]),
        **extra,
    )


def kept_rows(
    table: str, read: pl.DataFrame, postgres: PostgresResource
) -> tuple[pl.DataFrame, pl.DataFrame, list[int], dict[str, Any]]:
    """One row per primary key and partition (the last one read, as the upsert would keep), and of
    those the ones that keep the table's contract; the others go to the quarantine with their rule.
    Returns (the rows per key, the rows kept, the positions in `read` of the rows set aside, metadata)."""
    key = [*PRIMARY_KEYS[table], PARTITION_COLUMNS[table]]
    numbered = read.with_row_index("__at").unique(subset=key, keep="last", maintain_order=True)
    unique = numbered.drop("__at")
    kept, violations = contracts.enforce(CONTRACTS[table], unique)
    metadata = quarantine_violations(postgres, table, unique, violations)
    return unique, kept, [numbered["__at"][row] for row in sorted({v.row for v in violations})], metadata


def accepted_rows(
    asset_key: dg.AssetKey, read: pl.DataFrame, received: int, postgres: PostgresResource
) -> tuple[pl.DataFrame, reconciliation.Tally, dict[str, Any]]:
    """The rows to store, their accounting and what the contract set aside; `received` inputs became
    `read` rows, the rest were ignored."""
    unique, frame, _, metadata = kept_rows(asset_key.path[-1], read, postgres)
    tally = reconciliation.Tally(
        received=received,
        accepted=frame.height,
        duplicate=read.height - unique.height,
        rejected=unique.height - frame.height,
        ignored=received - read.height,
    )
    return frame, tally, metadata


def quarantine_violations(
    postgres: PostgresResource, table: str, frame: pl.DataFrame, violations: list[contracts.Violation]
) -> dict[str, Any]:
    """Each row that broke the contract into the quarantine (the rule, the value, the row); metadata."""
    if not violations:
        return {"rejected_by_rule": {}}
    rejected = contracts.rejections(
        frame,
        violations,
        locate=lambda row: f"{table}#{'/'.join(str(row[k]) for k in PRIMARY_KEYS[table])}",
        partition=lambda row: str(row[PARTITION_COLUMNS[table]]),
    )
    with postgres.connect() as conn:
        quarantine.ensure_table(conn)
        quarantine.quarantine(conn, f"fxci-{table}", rejected)
    return {"rejected_by_rule": dg.MetadataValue.json(contracts.rejected_by_rule(violations))}


def uniqueness_result(
    asset_key: dg.AssetKey, stored: pl.DataFrame, partition_column: str | None = None
) -> dg.AssetCheckResult:
    """The primary key is unique within each partition (`partition_column` splits a range's rows)."""
    key = [*PRIMARY_KEYS[asset_key.path[-1]], *([partition_column] if partition_column else [])]
    duplicates = stored.height - stored.select(key).unique().height if stored.height else 0
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=UNIQUE_CHECK,
        passed=duplicates == 0,
        metadata={"rows": stored.height, "duplicate_keys": duplicates},
    )


def _contracted(
    table: str, rows: list[dict[str, Any]], origins: list[str], postgres: PostgresResource
) -> tuple[pl.DataFrame, dict[str, str], list[str], dict[str, Any]]:
    """The drain's rows for one table that keep the contract, the exchange of each key's first
    message, the exchanges of those set aside, metadata."""
    read = pl.DataFrame(rows, schema=schemas.polars_schema(table))
    _, kept, set_aside, metadata = kept_rows(table, read, postgres)
    first_from: dict[str, str] = {}
    for key, origin in zip(placement.keys_of(table, read), origins, strict=True):
        first_from.setdefault(key, origin)
    return kept, first_from, [origins[at] for at in set_aside], metadata


def _count_stored_before(
    placed: placement.Placed, first_from: dict[str, str], tallies: dict[str, Any], unreported: set[str]
) -> None:
    """A run some earlier drain stored and reported is a duplicate, not accepted: the drain counted
    its key's first message accepted (and any repeat a duplicate already). One that a killed drain
    stored but never reported (`unreported`) stays accepted here, so the numbers stay true."""
    stored_before = zip(placed.keys, placed.already_stored, placed.stored_by, strict=True)
    for key in dict.fromkeys(k for k, already, by in stored_before if already and by not in unreported):
        tally = tallies[first_from[key]]
        tally.accepted -= 1
        tally.run_rows -= 1
        tally.duplicate += 1


@dg.multi_asset(
    specs=[TASKS, TASK_RUNS],
    check_specs=[
        unique_check(TASKS.key),
        unique_check(TASK_RUNS.key),
        *(
            dg.AssetCheckSpec(
                ONE_PARTITION_CHECK,
                asset=spec.key,
                description="No key of the day's partition is in another partition (the first day keeps it).",
            )
            for spec in (TASKS, TASK_RUNS)
        ),
        reconciliation.check_spec(TASKS.key),
        reconciliation.check_spec(TASK_RUNS.key),
    ],
    partitions_def=DAYS,
    required_resource_keys={"warehouse_writer", "pulse", "postgres"},
    description="Drains the three Taskcluster queues; rows are stored before any message is acked.",
)
@transient_retries()
def pulse_tables(context: dg.AssetExecutionContext, config: DrainConfig):
    day = dt.date.fromisoformat(context.partition_key)
    # The rows must be stored before the ack, so the asset writes them itself, through the
    # warehouse's writer (the machinery under the IO manager); a multi-asset's resources come by key.
    warehouse: TableWriter = context.resources.warehouse_writer
    pulse: PulseResource = context.resources.pulse
    postgres: PostgresResource = context.resources.postgres
    with pulse.connection() as connection:
        drained = drain(connection, pulse.user, day, config.max_messages_per_exchange)
        stored, broken, placed = {}, {}, {}
        for spec, rows, origins in (
            (TASKS, drained.tasks, drained.task_exchanges),
            (TASK_RUNS, drained.runs, drained.run_exchanges),
        ):
            table = spec.key.path[-1]
            frame, first_from, rejected_from, broken[table] = _contracted(table, rows, origins, postgres)
            if table == "task_runs_v1":  # a message whose run broke the contract was rejected, not accepted
                for exchange in rejected_from:
                    tally = drained.tallies[exchange]
                    tally.accepted -= 1
                    tally.run_rows -= 1
                    tally.rejected += 1
            # Each key in the day that first took it in (placement.py); a stored one is not written again.
            with postgres.connect() as conn:
                placed[table] = placement.place(conn, table, frame, day)
            for written_day, part in placed[table].by_day.items():
                warehouse.write(Target.of_spec(spec, [written_day.isoformat()]), part)
                if written_day != day:  # a redelivery of a run whose own day's write had not finished
                    context.log_event(
                        dg.AssetMaterialization(
                            spec.key, partition=written_day.isoformat(), metadata={"rows": part.height}
                        )
                    )
            stored[table] = sum(part.height for part in placed[table].by_day.values())
            if table == "task_runs_v1":
                unreported = reconciliation.unreported_runs(
                    context.instance, placed[table].stored_by, context.run.run_id
                )
                _count_stored_before(placed[table], first_from, drained.tallies, unreported)
        with postgres.connect() as conn:
            for table, where in placed.items():
                placement.mark_stored(conn, table, where, context.run.run_id)
            quarantine.ensure_table(conn)
            conn.execute(UNSCHEDULED_DDL)
            quarantine.quarantine(conn, "fxci-pulse", drained.rejected)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO fxci.unscheduled_tasks (task_id, exchange) VALUES (%s, %s) "
                    "ON CONFLICT (task_id) DO NOTHING",
                    drained.unscheduled,
                )
        # Everything above is committed: only now may the broker forget the messages.
        drained.ack()
    total = reconciliation.Tally.total(drained.tallies.values())
    by_exchange = {name: dataclasses.asdict(t) for name, t in drained.tallies.items()}
    common = reconciliation.metadata(total, {"exchanges": dg.MetadataValue.json(by_exchange)})
    yield dg.MaterializeResult(
        asset_key=TASKS.key, metadata={**common, **broken["tasks_v2"], "rows_written": stored["tasks_v2"]}
    )
    yield dg.MaterializeResult(
        asset_key=TASK_RUNS.key,
        metadata={
            **common,
            **broken["task_runs_v1"],
            "rows_written": stored["task_runs_v1"],
            "unscheduled": len(drained.unscheduled),
        },
    )
    # The messages are one input to both tables: each table's check sees the same accounting.
    for spec in (TASKS, TASK_RUNS):
        yield reconciliation.check_result(spec.key, total, drained.tallies)
    for spec in (TASKS, TASK_RUNS):
        try:
            table = warehouse.read(Target.of_spec(spec, [context.partition_key]))
        except FileNotFoundError:
            table = pl.DataFrame()  # nothing stored for the day yet
        yield uniqueness_result(spec.key, table)
        name = spec.key.path[-1]
        with postgres.connect() as conn:
            keys = placement.keys_of(name, table) if table.height else []
            elsewhere = first_seen.claimed_elsewhere(conn, placement.ledger_name(name), keys, day)
        yield dg.AssetCheckResult(
            asset_key=spec.key,
            check_name=ONE_PARTITION_CHECK,
            passed=not elsewhere,
            metadata={"keys_in_another_partition": len(elsewhere), "sample": dg.MetadataValue.json(elsewhere[:10])},
        )
