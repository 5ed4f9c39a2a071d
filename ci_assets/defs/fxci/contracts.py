"""The fxci tables' contracts, generated from their production schema files (schemas/*.schema.yaml).

Types and REQUIRED come from the schema, the primary key is unique within the partition's day,
and the value rules are the ones Taskcluster and the tables' definitions state.
"""

from ci_assets.defs.fxci import schemas
from ci_assets.lib import contracts
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


RULES = {
    "task_runs_v1": [contracts.at_least("run_id", 0), contracts.one_of("state", RUN_STATES)],
    "worker_metrics_v1": [contracts.at_least("uptime", 0)],
    "worker_costs_v1": [contracts.one_of("cloud_provider", ["gcp", "azure"])],
}


def table_contract(table: str) -> Contract:
    return Contract.from_file(
        table,
        schemas.path(table),
        unique=[*PRIMARY_KEYS[table], PARTITION_COLUMNS[table]],
        rules=RULES.get(table, []),
        partition=PARTITION_COLUMNS[table],
    )


CONTRACTS = {table: table_contract(table) for table in schemas.TABLES}
