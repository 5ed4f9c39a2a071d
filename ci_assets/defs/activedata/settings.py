"""Which ActiveData buckets the platform reads, and how much a sensor tick may list."""

import dagster as dg

from ci_assets.defs.activedata.buckets import bucket_names

# Ours: the seed gives Bugzilla's identity rule but no bucket; production sets it in the environment.
DEFAULT_BUGZILLA_BUCKET = "ci-assets-bugzilla"


class ActiveDataSettings(dg.ConfigurableResource):
    # None: all eight and Bugzilla's. The production names are the buckets' names everywhere, locally too.
    buckets: list[str] | None = None
    bugzilla_bucket: str = DEFAULT_BUGZILLA_BUCKET
    max_keys_per_tick: int = 10_000
    download_threads: int = 16
    # Processes that parse the downloaded files (line_parser.py); each takes about 2.5 CPU-s a million lines.
    parse_processes: int = 2

    def watched(self) -> list[str]:
        return list(self.buckets) if self.buckets is not None else [*bucket_names(), self.bugzilla_bucket]
