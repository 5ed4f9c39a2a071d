"""Where Firefox-CI's worker uptime comes from: Cloud Monitoring in the cloud, files locally.

The environment's module (defs/resources.py) picks the `uptime_source` resource: both give
the same time series for a project and a day.
"""

import datetime as dt
import json
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from ci_assets.lib.lazy import lazy
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
