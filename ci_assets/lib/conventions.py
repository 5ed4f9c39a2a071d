"""What every system's assets share: who owns them and how fresh their tables must stay."""

import datetime as dt

import dagster as dg

OWNERS = ["team:data-platform"]

# A table fed every few minutes (the pulse drain runs every 15) is stale after an hour;
# one rebuilt each morning, after a day and a margin for a late run.
FRESH_HOURLY = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=1))
FRESH_DAILY = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30))

# Kinds say where the data is kept, and the embedded local default keeps it elsewhere: the buckets
# are folders under CI_ASSETS_HOME, the warehouse is Parquet that DuckDB queries, pulse is kombu's
# filesystem transport. The assets declare the production kinds; the code location maps them.
LOCAL_KINDS = {"s3": "filesystem", "bigquery": "duckdb", "rabbitmq": "filesystem"}


def with_environment_kinds(spec: dg.AssetSpec, environment: str) -> dg.AssetSpec:
    if environment != "local" or not set(spec.kinds) & set(LOCAL_KINDS):
        return spec
    tags = {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}
    return spec.replace_attributes(kinds={LOCAL_KINDS.get(k, k) for k in spec.kinds}, tags=tags)
