"""Environment -> resources: the one place that turns `lib/env.py`'s checked variables into every
resource of the code location, each system's settings included. Systems ask for these keys and
never build a client themselves or read the environment.

`CI_ASSETS_ENV=local` (default) runs everything embedded under `$CI_ASSETS_HOME`;
`CI_ASSETS_ENV=cloud` reads its settings from the variables in the README. A variable that is
set is used in either environment (a local run can drain a real broker). Secrets (DSNs, the
pulse URL) stay `dg.EnvVar`s: Dagster reads them at run time and never shows them.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from ci_assets.defs.activedata.settings import DEFAULT_BUGZILLA_BUCKET, ActiveDataSettings
from ci_assets.defs.aggregates.settings import DEFAULT_BUCKET as AGGREGATES_BUCKET
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.buildhub.settings import PRODUCTION_BUCKET as BUILDHUB_BUCKET
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.defs.fxci.settings import CloudMonitoringUptimeSource, LocalUptimeSource
from ci_assets.defs.sources.registry import PRODUCTION_METADATA_BUCKET
from ci_assets.defs.sources.settings import RegistrySettings
from ci_assets.lib import env, metrics
from ci_assets.lib.alerts import SLACK_API, SlackAlerts
from ci_assets.lib.lake import DEFAULT_PREFIX, LOCAL_LAKE_BUCKET
from ci_assets.lib.listing import DEFAULT_INTERVAL_SECONDS
from ci_assets.lib.pulse import PulseResource
from ci_assets.lib.storage.bigquery_io import BigQueryIOManager, BigQueryWriter
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, S3ObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager, ParquetWriter
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.sql import BigQuerySqlRunner, DuckDBSqlRunner

# Where warehouse assets without a `table` of their own land (project.dataset).
LOCAL_WAREHOUSE_PROJECT = "local"
DEFAULT_DATASET = "ci_assets"


def local_resources(settings: env.Settings | None = None) -> dict[str, Any]:
    settings = settings or env.read()
    home = settings.home
    objects = LocalObjectStoreResource(root=str(home / "objects"))
    dsn = settings.secret("CI_ASSETS_POSTGRES_DSN")
    lake = {"store": objects, "bucket": LOCAL_LAKE_BUCKET, "prefix": DEFAULT_PREFIX}
    warehouse = {
        "store": LocalObjectStoreResource(root=str(home)),
        "bucket": "lake",
        "prefix": "warehouse",
        "table_namespace": f"{LOCAL_WAREHOUSE_PROJECT}.{DEFAULT_DATASET}",
    }
    return {
        "object_store": objects,
        "lake_writer": ParquetWriter(**lake),
        "lake_io_manager": ParquetIOManager(**lake),
        "warehouse_writer": ParquetWriter(**warehouse),
        "warehouse_io_manager": ParquetIOManager(**warehouse),
        "postgres": PostgresResource(dsn=dsn) if dsn else PostgresResource(embedded_dir=str(home / "postgres")),
        "sql": DuckDBSqlRunner(warehouse_dir=str(home / "lake" / "warehouse"), default_project=LOCAL_WAREHOUSE_PROJECT),
        "pulse": _pulse(settings),
        "uptime_source": LocalUptimeSource(),
    }


def cloud_resources(settings: env.Settings) -> dict[str, Any]:
    # Endpoints and names are plain settings (shown in the UI; lib/env.py refuses them with a
    # password); credentials never pass through here: boto3 and google-auth find their own.
    objects = S3ObjectStoreResource(endpoint_url=settings.text("CI_ASSETS_S3_ENDPOINT_URL"))
    project = settings.text("CI_ASSETS_BQ_PROJECT") or ""
    location = settings.text("CI_ASSETS_BQ_LOCATION")
    endpoint = settings.text("CI_ASSETS_BQ_ENDPOINT")
    lake = {
        "store": objects,
        "bucket": settings.text("CI_ASSETS_LAKE_BUCKET") or "",
        "prefix": settings.text("CI_ASSETS_LAKE_PREFIX", DEFAULT_PREFIX) or DEFAULT_PREFIX,
    }
    warehouse = {
        "project": project,
        "dataset": settings.text("CI_ASSETS_BQ_DATASET", DEFAULT_DATASET) or DEFAULT_DATASET,
        "location": location,
        "endpoint": endpoint,
    }
    return {
        "object_store": objects,
        "lake_writer": ParquetWriter(**lake),
        "lake_io_manager": ParquetIOManager(**lake),
        "warehouse_writer": BigQueryWriter(**warehouse),
        "warehouse_io_manager": BigQueryIOManager(**warehouse),
        "postgres": PostgresResource(dsn=settings.secret("CI_ASSETS_POSTGRES_DSN")),
        "sql": BigQuerySqlRunner(project=project, location=location, endpoint=endpoint),
        "pulse": _pulse(settings),
        "uptime_source": CloudMonitoringUptimeSource(),
    }


def _pulse(settings: env.Settings) -> PulseResource:
    url = settings.secret("CI_ASSETS_PULSE_URL")
    return PulseResource(
        url=url if url is not None else "",
        user=settings.text("CI_ASSETS_PULSE_USER", "ci-assets") or "ci-assets",
        folder=str(settings.home / "pulse"),
    )


def system_settings(settings: env.Settings) -> dict[str, Any]:
    """Each system's settings resource, from its variables."""
    home = settings.home
    return {
        "activedata_settings": ActiveDataSettings(
            buckets=settings.items("CI_ASSETS_ACTIVEDATA_BUCKETS") or None,
            bugzilla_bucket=settings.text("CI_ASSETS_ACTIVEDATA_BUGZILLA_BUCKET", DEFAULT_BUGZILLA_BUCKET),
        ),
        "buildhub_settings": BuildhubSettings(
            bucket=settings.text("CI_ASSETS_BUILDHUB_BUCKET", BUILDHUB_BUCKET),
            prefixes=settings.items("CI_ASSETS_BUILDHUB_PREFIXES") or [""],
            sqs_queue_url=settings.text("CI_ASSETS_BUILDHUB_SQS_QUEUE_URL"),
            sqs_endpoint_url=settings.text("CI_ASSETS_S3_ENDPOINT_URL"),
        ),
        "aggregates_source": AggregatesSource(
            dsn=settings.secret("CI_ASSETS_AGGREGATES_DSN"),
            embedded_dir=str(home / "postgres"),
            bucket=settings.text("CI_ASSETS_AGGREGATES_BUCKET", AGGREGATES_BUCKET),
            pg_dump=settings.text("CI_ASSETS_PG_DUMP"),
            scratch_dir=str(home / "tmp"),
        ),
        "registry_settings": RegistrySettings(
            metadata_bucket=settings.text("CI_ASSETS_METADATA_BUCKET", PRODUCTION_METADATA_BUCKET)
        ),
    }


def resources_for(settings: env.Settings | None = None) -> dict[str, Any]:
    """Every resource of the code location for the environment `settings` describe (default: this process's)."""
    settings = settings or env.read()
    metrics.configure_backends(settings.text("CI_ASSETS_STATSD_HOST"), settings.number("CI_ASSETS_STATSD_PORT", 8125))
    core = cloud_resources(settings) if settings.env == "cloud" else local_resources(settings)
    return core | system_settings(settings) | alert_resources(settings)


def alert_resources(settings: env.Settings) -> dict[str, Any]:
    """`slack_alerts` when a channel is named (lib/alerts.py's sensors are added with it)."""
    channel = settings.text("CI_ASSETS_SLACK_CHANNEL")
    if not channel:
        return {}
    return {
        "slack_alerts": SlackAlerts(
            channel=channel,
            token=settings.secret("CI_ASSETS_SLACK_TOKEN") or "",
            api_url=settings.text("CI_ASSETS_SLACK_API_URL", SLACK_API) or SLACK_API,
            webserver_url=settings.text("CI_ASSETS_WEBSERVER_URL", "http://127.0.0.1:3000") or "http://127.0.0.1:3000",
        )
    }


def listing_interval(settings: env.Settings) -> int:
    return settings.number("CI_ASSETS_LISTING_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS)


def executor_for(settings: env.Settings) -> dg.ExecutorDefinition:
    """Locally a run's steps run in its own process: a step process would load the code location
    again (seconds) to do what is mostly one heavy step per run, and the machine has few cores.
    In the cloud a run's independent steps run in parallel, forked from a server that loaded the
    code location once."""
    if settings.env == "local":
        return dg.in_process_executor
    return dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})
