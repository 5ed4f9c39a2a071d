"""Pipeline metadata (seed 001): the source registry written from the asset graph, and its reader."""

import dagster as dg

from ci_assets.defs.sources.assets import registry
from ci_assets.defs.sources.migration_job import sources_migration


def build_defs(listing_interval_seconds: int = 0) -> dg.Definitions:
    """(No listing sensor: the interval is not used.)"""
    return dg.Definitions(assets=[registry], jobs=[sources_migration])
