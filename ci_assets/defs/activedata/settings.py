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
    # Threads that download a day's files, each parsing what it downloaded (day_files.py).
    download_threads: int = 16

    def watched(self) -> list[str]:
        return list(self.buckets) if self.buckets is not None else [*bucket_names(), self.bugzilla_bucket]
