"""ci_assets: Mozilla's CI and telemetry pipelines as one Dagster asset graph."""

import warnings

import dagster as dg

# The one beta feature we build on by choice: single-run backfills (a month of partitions in one
# run, split per partition by our IO managers) are how every daily asset backfills. Its beta
# warning would print once per asset on every load of the code location.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of", category=dg.BetaWarning)
