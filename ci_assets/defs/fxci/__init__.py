"""Firefox-CI ETL (seed 002): pulse messages become the fxci_derived tables."""

import dagster as dg

from ci_assets.defs.fxci.assets import pulse_tables

defs = dg.Definitions(assets=[pulse_tables])
