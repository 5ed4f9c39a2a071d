"""Where the registry lives: the bucket of `sources.json` and the schemas (seed 001's)."""

import dagster as dg

from ci_assets.defs.sources.registry import PRODUCTION_METADATA_BUCKET


class RegistrySettings(dg.ConfigurableResource):
    metadata_bucket: str = PRODUCTION_METADATA_BUCKET
