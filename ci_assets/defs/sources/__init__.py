"""Pipeline metadata (seed 001): the source registry written from the asset graph, and its reader."""

import dagster as dg

from ci_assets.defs.sources.assets import registry
from ci_assets.defs.sources.migration_job import sources_migration

defs = dg.Definitions(assets=[registry], jobs=[sources_migration])
