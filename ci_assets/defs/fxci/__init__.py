"""The fxci system's assets, checks, sensors and schedules (group `fxci`)."""

import dagster as dg

defs = dg.Definitions()
