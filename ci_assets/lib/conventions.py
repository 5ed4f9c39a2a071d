"""What every system's assets share: who owns them and how fresh their tables must stay."""

import datetime as dt

import dagster as dg

OWNERS = ["team:data-platform"]

# A table fed every few minutes (the pulse drain runs every 15) is stale after an hour;
# one rebuilt each morning, after a day and a margin for a late run.
FRESH_HOURLY = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=1))
FRESH_DAILY = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30))
