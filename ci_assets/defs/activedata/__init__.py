"""ActiveData (seed 000): the eight destination buckets as assets, their key convention as code."""

import dagster as dg

from ci_assets.defs.activedata.assets import BUCKET_ASSETS
from ci_assets.defs.activedata.sensors import new_keys_sensor
from ci_assets.defs.activedata.settings import settings_from_env

defs = dg.Definitions(
    assets=list(BUCKET_ASSETS.values()),
    sensors=[new_keys_sensor],
    resources={"activedata_settings": settings_from_env()},
)
