"""worker_metrics_v1: each worker instance's uptime on the day, from Cloud Monitoring.

The window is the partition's day (not "since the last run"), so any day can be
re-run. In the cloud the official client asks for `compute.googleapis.com/instance/uptime`
summed per instance over the day; locally the same time series are JSON files in the
object store (`fxci-monitoring/uptime/<project>/<day>.json`).
"""

import datetime as dt
import json
from typing import Any

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from ci_assets.defs.fxci import schemas
from ci_assets.defs.fxci.assets import DAYS, GROUP, accepted_rows, table_metadata, unique_check, uniqueness_result
from ci_assets.lib import reconciliation
from ci_assets.lib.conventions import FRESH_DAILY, OWNERS
from ci_assets.lib.lazy import lazy
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource

# Only the cloud path talks to Cloud Monitoring: its client is imported on first use.
grpc, monitoring_v3 = lazy("grpc"), lazy("google.cloud.monitoring_v3")
duration_pb2, timestamp_pb2 = lazy("google.protobuf.duration_pb2"), lazy("google.protobuf.timestamp_pb2")
_grpc_transport = lazy("google.cloud.monitoring_v3.services.metric_service.transports.grpc")

WORKER_PROJECTS = ("fxci-production-level1-workers", "fxci-production-level3-workers")
UPTIME = "compute.googleapis.com/instance/uptime"
LOCAL_BUCKET = "fxci-monitoring"


class UptimeSource(dg.ConfigurableResource):
    """Where uptime series come from; the environment's module picks one of the two below."""

    def raw_series(
        self, project: str, start: dt.datetime, end: dt.datetime, object_store: ObjectStoreResource
    ) -> list[dict[str, Any]]:
        raise NotImplementedError

    def series(self, project: str, day: dt.date, object_store: ObjectStoreResource) -> tuple[list[dict[str, Any]], int]:
        """[{project, zone, instance_id, interval_start_time, interval_end_time, uptime}] for the day,
        and how many series came back (one without a point has no uptime to store)."""
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        end = start + dt.timedelta(days=1)
        raw = self.raw_series(project, start, end, object_store)
        return [_row(ts, start, end) for ts in raw for _ in ts.get("points", [])[:1]], len(raw)


class LocalUptimeSource(UptimeSource):
    """The same time series as JSON files in the object store (`fxci-monitoring/uptime/<project>/<day>.json`)."""

    def raw_series(
        self, project: str, start: dt.datetime, end: dt.datetime, object_store: ObjectStoreResource
    ) -> list[dict[str, Any]]:
        key = f"uptime/{project}/{start.date().isoformat()}.json"
        if object_store.head(LOCAL_BUCKET, key) is None:
            return []
        return json.loads(object_store.get_bytes(LOCAL_BUCKET, key))


class CloudMonitoringUptimeSource(UptimeSource):
    """Cloud Monitoring through the official client, with application default credentials."""

    # host:port of a Monitoring API spoken without TLS or credentials (a test server); None: Google.
    endpoint: str | None = None

    _client: Any = PrivateAttr(default=None)

    def client(self) -> Any:  # monitoring_v3.MetricServiceClient
        if self._client is None:
            if self.endpoint:
                channel = grpc.insecure_channel(self.endpoint)
                transport = _grpc_transport.MetricServiceGrpcTransport(channel=channel)
                self._client = monitoring_v3.MetricServiceClient(transport=transport)
            else:
                self._client = monitoring_v3.MetricServiceClient()
        return self._client

    def raw_series(
        self, project: str, start: dt.datetime, end: dt.datetime, object_store: ObjectStoreResource
    ) -> list[dict[str, Any]]:
        return [monitoring_v3.TimeSeries.to_dict(ts) for ts in self._list(project, start, end)]

    def _list(self, project: str, start: dt.datetime, end: dt.datetime) -> Any:
        interval = monitoring_v3.TimeInterval(
            start_time=timestamp_pb2.Timestamp(seconds=int(start.timestamp())),
            end_time=timestamp_pb2.Timestamp(seconds=int(end.timestamp())),
        )
        aggregation = monitoring_v3.Aggregation(
            alignment_period=duration_pb2.Duration(seconds=86_400),
            per_series_aligner=monitoring_v3.Aggregation.Aligner.ALIGN_SUM,
        )
        return self.client().list_time_series(
            request={
                "name": f"projects/{project}",
                "filter": f'metric.type = "{UPTIME}"',
                "interval": interval,
                "aggregation": aggregation,
                "view": monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
            }
        )


def _row(ts: dict[str, Any], start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    labels = ts["resource"]["labels"]
    point = ts["points"][0]
    value = point["value"]
    return {
        "project": labels["project_id"],
        "zone": labels["zone"],
        "instance_id": labels["instance_id"],
        "interval_start_time": start,
        "interval_end_time": end,
        "uptime": round(float(value.get("double_value", value.get("int64_value", 0)) or 0), 2),
    }


KEY = dg.AssetKey(["fxci", "worker_metrics_v1"])


@dg.asset(
    key=KEY,
    check_specs=[unique_check(KEY), reconciliation.check_spec(KEY)],
    group_name=GROUP,
    owners=OWNERS,
    freshness_policy=FRESH_DAILY,
    kinds={"bigquery", "gcp"},
    partitions_def=DAYS,
    # A month's backfill is one run asking for each day in turn; the IO manager stores each day
    # as if it ran alone, a day without series as an empty partition.
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="warehouse_io_manager",
    metadata=table_metadata("worker_metrics_v1", "submission_date"),
    description="Each worker instance's uptime on the day (Cloud Monitoring), for the two worker projects.",
)
@transient_retries()
def worker_metrics_v1(
    context: dg.AssetExecutionContext, uptime_source: UptimeSource, object_store: ObjectStoreResource
):
    rows, by_day, received = [], {}, 0
    for key in context.partition_keys:
        day = dt.date.fromisoformat(key)
        count = 0
        for project in WORKER_PROJECTS:
            series, returned = uptime_source.series(project, day, object_store)
            rows.extend(r | {"submission_date": day} for r in series)
            count += len(series)
            received += returned
        by_day[key] = count
    read = pl.DataFrame(rows, schema=schemas.polars_schema("worker_metrics_v1"))
    frame, tally = accepted_rows(KEY, read, "submission_date", received)
    empty = [key for key, count in by_day.items() if count == 0]
    if empty:
        context.log.warning(f"no uptime series for {', '.join(empty)}: stored as empty partitions")
    detail = {
        "instances": frame.height,
        "instances_by_day": by_day,
        "days_without_series": empty,
        "projects": sorted(set(frame["project"].to_list())),
    }
    yield dg.Output(frame, metadata=reconciliation.metadata(tally, detail))
    yield uniqueness_result(KEY, frame, "submission_date")
    yield reconciliation.check_result(KEY, tally)
