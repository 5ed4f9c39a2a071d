"""The fxci tables' contracts, generated from their production schema files (schemas/*.schema.yaml).

Types and REQUIRED come from the schema, the primary key is unique within the partition's day,
and the value rules are the ones Taskcluster and the tables' definitions state.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ci_assets.defs.fxci import schemas
from ci_assets.lib.contracts import Contract

PRIMARY_KEYS = {
    "tasks_v2": ["task_id"],
    "task_runs_v1": ["task_id", "run_id"],
    "worker_metrics_v1": ["project", "zone", "instance_id"],
    "worker_costs_v1": ["project", "zone", "instance_id"],
}
PARTITION_COLUMNS = {
    "tasks_v2": "submission_date",
    "task_runs_v1": "submission_date",
    "worker_metrics_v1": "submission_date",
    "worker_costs_v1": "usage_start_date",
}
# A Taskcluster run is in one of these states (queue's run states).
RUN_STATES = ["pending", "running", "completed", "failed", "exception"]


def rules(table: str) -> Mapping[str, Sequence[Any]]:
    """The value rules (pandera checks, built when a contract is first used)."""
    import pandera.polars as pa

    return {
        "task_runs_v1": {"run_id": [pa.Check.ge(0)], "state": [pa.Check.isin(RUN_STATES)]},
        "worker_metrics_v1": {"uptime": [pa.Check.ge(0)]},
        "worker_costs_v1": {"cloud_provider": [pa.Check.isin(["gcp", "azure"])]},
    }.get(table, {})


def table_contract(table: str) -> Contract:
    unique = [*PRIMARY_KEYS[table], PARTITION_COLUMNS[table]]
    return Contract(table, schemas.fields(table), unique, rules=lambda: rules(table))


CONTRACTS = {table: table_contract(table) for table in schemas.TABLES}
