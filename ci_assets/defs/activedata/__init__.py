"""The activedata system's assets, checks, sensors and schedules (group `activedata`)."""

import dagster as dg

defs = dg.Definitions()
