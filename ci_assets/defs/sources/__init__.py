"""The sources system's assets, checks, sensors and schedules (group `sources`)."""

import dagster as dg

defs = dg.Definitions()
