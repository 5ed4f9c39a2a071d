"""worker_metrics_v1 from Cloud Monitoring's uptime metric, and from the local files of the same shape."""

import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import grpc
import polars as pl
import pytest
from google.cloud import monitoring_v3

from ci_assets.defs.fxci.settings import (
    LOCAL_BUCKET,
    UPTIME,
    CloudMonitoringUptimeSource,
    LocalUptimeSource,
    UptimeSource,
)
from ci_assets.defs.fxci.worker_metrics import worker_metrics_v1
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, ObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource

DAY = "2024-05-01"


def series(project: str, instance: str, seconds: float) -> dict[str, Any]:
    return {
        "metric": {"type": UPTIME, "labels": {"instance_name": f"worker-{instance}"}},
        "resource": {
            "type": "gce_instance",
            "labels": {"project_id": project, "zone": "us-central1-b", "instance_id": instance},
        },
        "points": [
            {
                "interval": {"start_time": "2024-05-01T00:00:00Z", "end_time": "2024-05-02T00:00:00Z"},
                "value": {"double_value": seconds},
            }
        ],
    }


@pytest.fixture
def monitoring() -> Iterator[tuple[str, list[Any]]]:
    """There is no local Cloud Monitoring server: the official client runs over its real gRPC
    transport, but the channel points at an in-process gRPC server answering ListTimeSeries
    with canned series (recording each request so the test can check what was asked)."""
    requests: list[Any] = []

    def list_time_series(request: monitoring_v3.ListTimeSeriesRequest, context: Any) -> Any:
        requests.append(request)
        project = request.name.split("/")[1]
        found = [series(project, f"{project[-8:]}-{i}", 3600.0 * (i + 1)) for i in range(3)]
        return monitoring_v3.ListTimeSeriesResponse(time_series=[monitoring_v3.TimeSeries(s) for s in found])

    handler = grpc.method_handlers_generic_handler(
        "google.monitoring.v3.MetricService",
        {
            "ListTimeSeries": grpc.unary_unary_rpc_method_handler(
                list_time_series,
                request_deserializer=monitoring_v3.ListTimeSeriesRequest.deserialize,
                response_serializer=monitoring_v3.ListTimeSeriesResponse.serialize,
            )
        },
    )
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", requests
    finally:
        server.stop(None)


@pytest.fixture(autouse=True)
def _postgres(postgres_dsn: str) -> None:
    """Rows that break the contract go to the quarantine: the session's database holds it."""
    POSTGRES["dsn"] = postgres_dsn


POSTGRES: dict[str, str] = {}


def pg() -> PostgresResource:
    return PostgresResource(dsn=POSTGRES["dsn"])


def materialize(source: UptimeSource, store: ObjectStoreResource, lake: Path) -> pl.DataFrame:
    io = ParquetIOManager(store=LocalObjectStoreResource(root=str(lake)), bucket="lake", prefix="warehouse")
    result = dg.materialize(
        [worker_metrics_v1],
        partition_key=DAY,
        resources={"uptime_source": source, "object_store": store, "warehouse_io_manager": io, "postgres": pg()},
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())  # the primary key is unique
    path = lake / "lake/warehouse/moz-fx-data-shared-prod/fxci_derived/worker_metrics_v1"
    return pl.read_parquet(path / f"submission_date={DAY}" / "data.parquet")


def test_cloud_monitoring_uptime_for_the_partitions_day(monitoring: Any, tmp_path: Path) -> None:
    endpoint, requests = monitoring
    source = CloudMonitoringUptimeSource(endpoint=endpoint)  # the official client, over the test server
    frame = materialize(source, LocalObjectStoreResource(root=str(tmp_path / "objects")), tmp_path)
    assert frame.height == 6 and set(frame["project"]) == {
        "fxci-production-level1-workers",
        "fxci-production-level3-workers",
    }
    assert sorted(frame["uptime"].to_list())[-1] == 10800.0
    assert frame["interval_start_time"].unique().to_list() == [dt.datetime(2024, 5, 1, tzinfo=dt.UTC)]
    asked = requests[0]
    assert asked.filter == f'metric.type = "{UPTIME}"'
    assert asked.interval.start_time.timestamp() == dt.datetime(2024, 5, 1, tzinfo=dt.UTC).timestamp()
    assert asked.aggregation.alignment_period.total_seconds() == 86400
    # Re-running the day replaces it: one row per instance, as the primary key says.
    assert materialize(source, LocalObjectStoreResource(root=str(tmp_path / "objects")), tmp_path).height == 6


def test_the_local_default_reads_the_same_shape_from_files(tmp_path: Path) -> None:
    store = LocalObjectStoreResource(root=str(tmp_path / "objects"))
    body = [series("fxci-production-level1-workers", "a1", 120.5)]
    store.put(LOCAL_BUCKET, f"uptime/fxci-production-level1-workers/{DAY}.json", json.dumps(body).encode())
    frame = materialize(LocalUptimeSource(), store, tmp_path)
    assert frame.select("project", "instance_id", "uptime").rows() == [("fxci-production-level1-workers", "a1", 120.5)]


def test_a_range_is_one_run_and_a_day_without_series_is_stored_empty(tmp_path: Path) -> None:
    store = LocalObjectStoreResource(root=str(tmp_path / "objects"))
    first, last = dt.date.fromisoformat(DAY), dt.date.fromisoformat(DAY) + dt.timedelta(days=2)
    for day, instance in ((first, "a1"), (last, "a3")):
        body = [series("fxci-production-level1-workers", instance, 60.0)]
        store.put(LOCAL_BUCKET, f"uptime/fxci-production-level1-workers/{day}.json", json.dumps(body).encode())
    io = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="warehouse")
    result = dg.materialize(
        [worker_metrics_v1],
        tags={"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last)},
        resources={
            "uptime_source": LocalUptimeSource(),
            "object_store": store,
            "warehouse_io_manager": io,
            "postgres": pg(),
        },
    )
    assert result.success
    materializations = result.asset_materializations_for_node("fxci__worker_metrics_v1")
    missing = str(first + dt.timedelta(days=1))
    assert sorted(m.partition for m in materializations) == [str(first), missing, str(last)]
    assert all(m.metadata["days_without_series"].value == [missing] for m in materializations)
    path = tmp_path / "lake/warehouse/moz-fx-data-shared-prod/fxci_derived/worker_metrics_v1"
    stored = {day: pl.read_parquet(path / f"submission_date={day}" / "data.parquet") for day in (first, missing, last)}
    assert stored[first]["instance_id"].to_list() == ["a1"]
    assert stored[missing].height == 0 and stored[missing].columns == stored[first].columns
    assert stored[last]["instance_id"].to_list() == ["a3"]


def test_every_series_is_accounted_for(tmp_path: Path) -> None:
    """A series without a point has no uptime (ignored); the same instance twice is stored once."""
    store = LocalObjectStoreResource(root=str(tmp_path / "objects"))
    project = "fxci-production-level1-workers"
    pointless = series(project, "a2", 1.0) | {"points": []}
    body = [series(project, "a1", 60.0), series(project, "a1", 90.0), pointless]
    store.put(LOCAL_BUCKET, f"uptime/{project}/{DAY}.json", json.dumps(body).encode())
    io = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="warehouse")
    result = dg.materialize(
        [worker_metrics_v1],
        partition_key=DAY,
        resources={
            "uptime_source": LocalUptimeSource(),
            "object_store": store,
            "warehouse_io_manager": io,
            "postgres": pg(),
        },
    )
    meta = result.asset_materializations_for_node("fxci__worker_metrics_v1")[0].metadata
    counts = {k: meta[k].value for k in ("received", "accepted", "duplicate", "rejected", "ignored")}
    assert counts == {"received": 3, "accepted": 1, "duplicate": 1, "rejected": 0, "ignored": 1}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"primary_key_is_unique": True, "reconciles": True}
    assert result.output_for_node("fxci__worker_metrics_v1")["uptime"].to_list() == [90.0]  # the last one read
