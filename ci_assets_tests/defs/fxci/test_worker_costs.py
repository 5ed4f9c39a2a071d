"""worker_costs_v1: one BigQuery-dialect query, on the BigQuery emulator and on DuckDB over the lake."""

import datetime as dt
import io
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from google.cloud import bigquery

from ci_assets.defs.fxci.worker_costs import BILLING_SOURCES, worker_costs_v1
from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.bigquery_tables import make_client, schema_from_frame
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.sql import BigQuerySqlRunner, DuckDBSqlRunner

DAY = dt.date(2024, 5, 1)
L1, L3 = "fxci-production-level1-workers", "fxci-production-level3-workers"
CREDIT = pl.Struct({"name": pl.String, "amount": pl.Float64})
GCP_SCHEMA = {
    "project": pl.Struct({"id": pl.String}),
    "resource": pl.Struct({"name": pl.String, "global_name": pl.String}),
    "usage_start_time": pl.Datetime("us", "UTC"),
    "cost": pl.Float64,
    "credits": pl.List(CREDIT),
}


def gcp_row(
    project: str,
    zone: str,
    instance: str,
    name: str,
    cost: float,
    credits: list[float],
    day: dt.date = DAY,
    kind: str = "instances",
) -> dict[str, Any]:
    return {
        "project": {"id": project},
        "resource": {
            "name": f"projects/{project}/{kind}/{name}",
            "global_name": f"//compute.googleapis.com/projects/{project}/zones/{zone}/{kind}/{instance}",
        },
        "usage_start_time": dt.datetime.combine(day, dt.time(23, 30), dt.UTC),
        "cost": cost,
        "credits": [{"name": "SUSTAINED_USAGE_DISCOUNT", "amount": c} for c in credits],
    }


def billing() -> dict[str, pl.DataFrame]:
    gcp = pl.DataFrame(
        [
            gcp_row(L1, "us-central1-b", "111", "worker-a", 10.0, [-2.0, -1.0]),
            gcp_row(L1, "us-central1-b", "111", "worker-a", 5.0, []),
            gcp_row(L3, "us-west1-a", "222", "worker-b", 3.0, [-0.5]),
            gcp_row(L1, "us-central1-b", "333", "disk-1", 9.0, [], kind="disks"),  # not an instance
            gcp_row("moz-fx-other", "us-central1-b", "444", "web-1", 8.0, []),  # another project
            gcp_row(L1, "us-central1-b", "111", "worker-a", 7.0, [], day=DAY + dt.timedelta(days=1)),  # next day
        ],
        schema=GCP_SCHEMA,
    )

    def load(rows: list[tuple[str, dt.date, str, str, float, str]]) -> pl.DataFrame:
        columns = ["sourceDataId", "date", "ResourceId", "resourceLocation", "costInBillingCurrency", "chargeType"]
        return pl.DataFrame(rows, schema=columns, orient="row")

    vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/{}/{}"
    return {
        "gcp_billing": gcp,
        "azure_fxci_load": load(
            [
                ("src-f", DAY, vm.format("virtualMachines", "vm-abc"), "westus2", 4.0, "Usage"),
                ("src-f", DAY, vm.format("VIRTUALMACHINES", "vm-abc"), "westus2", 1.0, "Usage"),
                ("src-f", DAY, vm.format("disks", "vm-abc-os"), "westus2", 6.0, "Usage"),  # not a VM
                ("src-f", DAY, vm.format("virtualMachines", "vm-abc"), "westus2", 50.0, "Purchase"),  # not usage
            ]
        ),
        "azure_fxci_lookup": pl.DataFrame({"sourceDataId": ["src-f"], "subscriptionName": ["FXCI Azure"]}),
        "azure_taskcluster_load": load(
            [
                ("src-t", DAY, vm.format("virtualMachines", "vm-xyz"), "eastus", 2.0, "Usage"),
                ("src-t", DAY - dt.timedelta(days=1), vm.format("virtualMachines", "vm-xyz"), "eastus", 3.0, "Usage"),
            ]
        ),
        "azure_taskcluster_lookup": pl.DataFrame({"sourceDataId": ["src-t"], "subscriptionName": ["Taskcluster"]}),
    }


EXPECTED = [
    ("gcp", L1, "worker-a", "us-central1-b", "111", 12.0),
    ("gcp", L3, "worker-b", "us-west1-a", "222", 2.5),
    ("azure", "FXCI Azure", "vm-abc", "westus2", "vm-abc", 5.0),
    ("azure", "Taskcluster", "vm-xyz", "eastus", "vm-xyz", 2.0),
]


def rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    picked = frame.select("cloud_provider", "project", "name", "zone", "instance_id", "total_cost")
    return sorted(picked.rows(), key=lambda r: (r[0] != "gcp", r[1], r[2]))


def run(resources: dict[str, Any]) -> pl.DataFrame:
    result = dg.materialize([worker_costs_v1], partition_key=DAY.isoformat(), resources=resources)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["primary_key_is_unique"].passed and checks["reconciles"].passed
    frame = result.output_for_node("fxci__worker_costs_v1")
    accounted = checks["reconciles"].metadata
    assert accounted["received"].value == accounted["accepted"].value == frame.height
    assert frame["usage_start_date"].unique().to_list() == [DAY]
    return frame


def test_the_same_costs_on_bigquery_and_on_the_local_lake(
    tmp_path: Path, bigquery_endpoint: str, postgres_dsn: str
) -> None:
    sources = billing()
    warehouse = tmp_path / "lake" / "warehouse"
    for name, frame in sources.items():
        project, dataset, table = BILLING_SOURCES[name].split(".")
        (warehouse / project / dataset / table).mkdir(parents=True)
        frame.write_parquet(warehouse / project / dataset / table / "data.parquet")
    local = run(
        {
            "sql": DuckDBSqlRunner(warehouse_dir=str(warehouse)),
            "postgres": PostgresResource(dsn=postgres_dsn),
            "warehouse_io_manager": ParquetIOManager(
                store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="warehouse"
            ),
        }
    )

    client = make_client("moz-fx-data-shared-prod", bigquery_endpoint)
    for name, frame in sources.items():
        table = BILLING_SOURCES[name]
        client.create_dataset(table.rsplit(".", 1)[0], exists_ok=True)
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            source_format="PARQUET", schema=schema_from_frame(frame.schema), write_disposition="WRITE_TRUNCATE"
        )
        config.parquet_options = bigquery.ParquetOptions()
        config.parquet_options.enable_list_inference = True
        client.load_table_from_file(buffer, table, job_config=config).result()
    cloud = run(
        {
            "sql": BigQuerySqlRunner(project="moz-fx-data-shared-prod", endpoint=bigquery_endpoint),
            "postgres": PostgresResource(dsn=postgres_dsn),
            "warehouse_io_manager": BigQueryIOManager(project="moz-fx-data-shared-prod", endpoint=bigquery_endpoint),
        }
    )

    assert rows(local) == EXPECTED
    assert rows(cloud) == EXPECTED
