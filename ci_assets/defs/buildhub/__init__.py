"""The buildhub system's assets, checks, sensors and schedules (group `buildhub`)."""

import dagster as dg

defs = dg.Definitions()
