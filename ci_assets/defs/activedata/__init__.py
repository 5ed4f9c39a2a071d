"""ActiveData (seed 000): the eight destination buckets as assets, their key convention as code."""

import dagster as dg

from ci_assets.defs.activedata.assets import BUCKET_ASSETS, BUGZILLA_ASSET
from ci_assets.defs.activedata.automation import new_keys_sensor
from ci_assets.defs.activedata.bugzilla import bugzilla_snapshots
from ci_assets.defs.activedata.treeherder import treeherder_jobs
from ci_assets.lib.listing import DEFAULT_INTERVAL_SECONDS


def build_defs(listing_interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> dg.Definitions:
    return dg.Definitions(
        assets=[*BUCKET_ASSETS.values(), BUGZILLA_ASSET, treeherder_jobs, bugzilla_snapshots],
        sensors=[new_keys_sensor(listing_interval_seconds)],
    )
