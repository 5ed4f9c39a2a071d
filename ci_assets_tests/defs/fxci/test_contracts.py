"""The fxci tables' contracts: generated from the schema files, enforced before anything is stored."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg

from ci_assets.defs.fxci.contracts import CONTRACTS
from ci_assets.defs.fxci.settings import LOCAL_BUCKET, LocalUptimeSource
from ci_assets.defs.fxci.worker_metrics import worker_metrics_v1
from ci_assets.lib import contract_type
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource

DAY = "2024-05-01"
PROJECT = "fxci-production-level1-workers"


def test_loading_the_code_location_imports_no_pandera() -> None:
    """pandera imports pandas: a contract loads it when first used, in the step that needs it; pyarrow
    (0.4 s) likewise waits for the ActiveData step that builds its frame with it."""
    import subprocess
    import sys

    probe = "import sys, ci_assets.definitions; print(sorted({'pandera', 'pandas', 'pyarrow'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip().splitlines()[-1] == "[]"


def _series(instance: str | None, seconds: float) -> dict:
    labels = {"project_id": PROJECT, "zone": "us-central1-b", "instance_id": instance}
    return {"resource": {"type": "gce_instance", "labels": labels}, "points": [{"value": {"double_value": seconds}}]}


def test_rows_that_break_the_contract_are_quarantined_with_their_rule(tmp_path: Path, fresh_postgres: str) -> None:
    store = LocalObjectStoreResource(root=str(tmp_path / "objects"))
    body = [_series("ok-1", 60.0), _series("negative", -5.0), _series(None, 30.0), _series("ok-2", 90.0)]
    store.put(LOCAL_BUCKET, f"uptime/{PROJECT}/{DAY}.json", json.dumps(body).encode())
    io = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="warehouse")
    resources = {
        "uptime_source": LocalUptimeSource(),
        "object_store": store,
        "warehouse_io_manager": io,
        "postgres": PostgresResource(dsn=fresh_postgres),
    }
    result = dg.materialize([worker_metrics_v1], partition_key=DAY, resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("fxci__worker_metrics_v1")[0].metadata
    assert (meta["received"].value, meta["accepted"].value, meta["rejected"].value) == (4, 2, 2)
    assert meta["rejected_by_rule"].value == {"instance_id: not_nullable": 1, "uptime: greater_than_or_equal_to(0)": 1}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"primary_key_is_unique": True, "reconciles": True}
    stored = pl.read_parquet(
        tmp_path / "lake/warehouse/moz-fx-data-shared-prod/fxci_derived/worker_metrics_v1" / f"submission_date={DAY}"
    )
    assert sorted(stored["instance_id"].to_list()) == ["ok-1", "ok-2"]
    with psycopg.connect(fresh_postgres) as conn:
        rows = conn.execute("SELECT source, reason, detail->>'rule' FROM quarantine ORDER BY reason").fetchall()
    assert rows == [
        ("fxci-worker_metrics_v1", "instance_id: not_nullable (value null)", "not_nullable"),
        ("fxci-worker_metrics_v1", "uptime: greater_than_or_equal_to(0) (value -5.0)", "greater_than_or_equal_to(0)"),
    ]


def test_a_frame_that_slips_past_the_asset_fails_the_type_check_and_nothing_is_stored(tmp_path: Path) -> None:
    day = dt.date.fromisoformat(DAY)

    @dg.asset(
        partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"),
        dagster_type=contract_type.dagster_type(CONTRACTS["worker_metrics_v1"]),
        metadata={"partition_expr": "submission_date"},
    )
    def careless() -> pl.DataFrame:
        row = {"project": PROJECT, "zone": "z", "instance_id": "i", "submission_date": day}
        times = {"interval_start_time": None, "interval_end_time": None}
        return pl.DataFrame([row | times | {"uptime": -1.0}, row | times | {"uptime": 2.0}])

    io = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake")
    result = dg.materialize([careless], partition_key=DAY, resources={"io_manager": io}, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "Type check failed" in str(failure) or "uptime" in str(failure)
    assert not list(tmp_path.rglob("*.parquet"))  # nothing stored
