"""Where the aggregates come from (mozaggregator's PostgreSQL) and where their dumps go."""

from pathlib import Path

import dagster as dg

from ci_assets.lib.storage.postgres import embedded_uri

DUMPS_PREFIX = "aggregates/dumps"
DEFAULT_BUCKET = "ci-assets-aggregates"


class AggregatesSource(dg.ConfigurableResource):
    """The source database (a DSN, or a database of the embedded server) and the dumps' bucket."""

    # An EnvVar when it comes from the environment: it holds a password.
    dsn: str | None = None
    embedded_database: str = "mozaggregator"
    embedded_dir: str | None = None
    bucket: str = DEFAULT_BUCKET
    prefix: str = DUMPS_PREFIX
    # A pg_dump to use instead of choosing one; it must still be as new as the server.
    pg_dump: str | None = None
    # Threads converting one day's data files side by side: three keep two cores busy while
    # one of them waits on its turn in polars' pool (bench/aggregates_convert.py).
    workers: int = 3
    # pg_dumps of a multi-day run that run at once (each is one connection to the source).
    dump_concurrency: int = 4
    # Where a conversion writes its Parquet before the lake takes it (None: the system's temp dir).
    scratch_dir: str | None = None

    def uri(self) -> str:
        if self.dsn:
            return self.dsn
        if not self.embedded_dir:
            raise ValueError("AggregatesSource needs a dsn or the embedded server's embedded_dir")
        return embedded_uri(Path(self.embedded_dir), self.embedded_database)

    def dump_prefix(self, aggregate_type: str, ds_nodash: str) -> str:
        return f"{self.prefix.strip('/')}/{aggregate_type}/{ds_nodash}/"

    def scratch(self) -> Path:
        import tempfile

        folder = Path(self.scratch_dir or tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        return folder
