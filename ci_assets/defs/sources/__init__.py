"""Pipeline metadata (seed 001): the source registry written from the asset graph, and its reader."""

import dagster as dg

from ci_assets.defs.sources.assets import registry, settings_from_env

defs = dg.Definitions(assets=[registry], resources={"registry_settings": settings_from_env()})
