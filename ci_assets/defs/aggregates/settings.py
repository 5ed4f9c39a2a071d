"""Where the aggregates come from (mozaggregator's PostgreSQL) and where their dumps go."""

import os
from pathlib import Path

import dagster as dg

from ci_assets.lib import env
from ci_assets.lib.storage.postgres import embedded_uri

DUMPS_PREFIX = "aggregates/dumps"


class AggregatesSource(dg.ConfigurableResource):
    """The source database (a DSN, or a database of the embedded server) and the dumps' bucket."""

    dsn: str | None = None
    embedded_database: str = "mozaggregator"
    embedded_dir: str | None = None
    bucket: str = "ci-assets-aggregates"
    prefix: str = DUMPS_PREFIX
    # A pg_dump to use instead of choosing one; it must still be as new as the server.
    pg_dump: str | None = None
    # Threads converting one day's data files side by side: three keep two cores busy while
    # one of them waits on its turn in polars' pool (bench/aggregates_convert.py).
    workers: int = 3
    # pg_dumps of a multi-day run that run at once (each is one connection to the source).
    dump_concurrency: int = 4

    def uri(self) -> str:
        if self.dsn:
            return self.dsn
        pgdata = Path(self.embedded_dir) if self.embedded_dir else env.postgres_dir()
        return embedded_uri(pgdata, self.embedded_database)

    def dump_prefix(self, aggregate_type: str, ds_nodash: str) -> str:
        return f"{self.prefix.strip('/')}/{aggregate_type}/{ds_nodash}/"


def source_from_env() -> AggregatesSource:
    # An EnvVar is read at run time and never shown in the UI (the DSN holds a password).
    dsn = dg.EnvVar("CI_ASSETS_AGGREGATES_DSN") if os.environ.get("CI_ASSETS_AGGREGATES_DSN") else None
    return AggregatesSource(
        dsn=dsn,
        bucket=os.environ.get("CI_ASSETS_AGGREGATES_BUCKET", "ci-assets-aggregates"),
        pg_dump=os.environ.get("CI_ASSETS_PG_DUMP") or None,
    )
