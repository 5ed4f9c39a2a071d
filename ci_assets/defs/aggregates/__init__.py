"""The aggregates system's assets, checks, sensors and schedules (group `aggregates`)."""

import dagster as dg

defs = dg.Definitions()
