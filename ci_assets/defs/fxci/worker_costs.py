"""worker_costs_v1: each worker instance's cost for the day, from the GCP and Azure billing exports.

The SQL is written once, in BigQuery dialect (`sql/worker_costs_v1.sql`); the `sql`
resource runs it on BigQuery in the cloud and on DuckDB over the local warehouse.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from ci_assets.defs.fxci import schemas
from ci_assets.defs.fxci.assets import GROUP, accepted_rows, daily_table, uniqueness_result
from ci_assets.lib import reconciliation
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import table_schema
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.sql import SqlRunner

QUERY = (Path(__file__).parent / "sql" / "worker_costs_v1.sql").read_text()

# The billing exports this table reads. The GCP one is the production export bigquery-etl
# reads; the Azure names are this platform's (the reference does not name them).
BILLING_SOURCES = {
    "gcp_billing": "moz-fx-data-shared-prod.billing_syndicate.gcp_billing_export_resource_v1_01E7D5_97288E_E2EBA0",
    "azure_fxci_load": "moz-fx-data-shared-prod.billing_syndicate.azure_fxci_cost_load",
    "azure_fxci_lookup": "moz-fx-data-shared-prod.billing_syndicate.azure_fxci_cost_lookup",
    "azure_taskcluster_load": "moz-fx-data-shared-prod.billing_syndicate.azure_taskcluster_cost_load",
    "azure_taskcluster_lookup": "moz-fx-data-shared-prod.billing_syndicate.azure_taskcluster_cost_lookup",
}

# The columns of each export the query reads (worker_costs.md); the exports have more.
_AZURE_LOAD = {
    "sourceDataId": "STRING",
    "date": "DATE",
    "ResourceId": "STRING",
    "resourceLocation": "STRING",
    "costInBillingCurrency": "NUMERIC",
    "chargeType": "STRING",
}
_AZURE_LOOKUP = {"sourceDataId": "STRING", "subscriptionName": "STRING"}
READ_COLUMNS = {
    "gcp_billing": {
        "project.id": "STRING",
        "resource.name": "STRING",
        "resource.global_name": "STRING",
        "usage_start_time": "TIMESTAMP",
        "cost": "FLOAT",
        "credits": "ARRAY<STRUCT<name STRING, amount FLOAT>>",
    },
    "azure_fxci_load": _AZURE_LOAD,
    "azure_fxci_lookup": _AZURE_LOOKUP,
    "azure_taskcluster_load": _AZURE_LOAD,
    "azure_taskcluster_lookup": _AZURE_LOOKUP,
}

billing_sources = [
    dg.AssetSpec(
        key=["fxci", name],
        group_name=GROUP,
        owners=OWNERS,
        kinds={"bigquery"},
        metadata={"table": table, "dagster/column_schema": table_schema(READ_COLUMNS[name])},
        description=f"Billing export written outside this platform ({table}).",
    )
    for name, table in BILLING_SOURCES.items()
]


def worker_costs_query() -> str:
    return QUERY.format(**BILLING_SOURCES)


KEY = dg.AssetKey(["fxci", "worker_costs_v1"])


@daily_table(
    KEY,
    "usage_start_date",
    {"bigquery", "sql"},
    "Each worker instance's total cost on the day: GCP (credits included) and Azure VMs.",
    deps=[spec.key for spec in billing_sources],
)
@transient_retries()
def worker_costs_v1(context: dg.AssetExecutionContext, sql: SqlRunner, postgres: PostgresResource):
    schema = schemas.polars_schema("worker_costs_v1")
    frames = []
    for key in context.partition_keys:
        day = sql.query(worker_costs_query(), {"submission_date": dt.date.fromisoformat(key)})
        frames.append(day.select([pl.col(name).cast(dtype) for name, dtype in schema.items()]))
    read = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    # The query's rows are the input (it filters and sums the billing rows itself).
    frame, tally, broken = accepted_rows(KEY, read, read.height, postgres)
    yield dg.Output(frame, metadata=reconciliation.metadata(tally, broken))
    yield uniqueness_result(KEY, frame, "usage_start_date")
    yield reconciliation.check_result(KEY, tally)
