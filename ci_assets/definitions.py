"""The code location: every system's definitions plus the environment's resources."""

import dagster as dg

from ci_assets.defs import activedata, aggregates, buildhub, fxci, sources
from ci_assets.defs.resources import resources_for_env

SYSTEMS = (activedata, sources, fxci, buildhub, aggregates)

defs = dg.Definitions.merge(
    *(system.defs for system in SYSTEMS),
    dg.Definitions(resources=resources_for_env()),
)
