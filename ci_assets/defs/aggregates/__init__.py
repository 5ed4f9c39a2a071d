"""mozaggregator2bq (seed 004): Postgres aggregates -> pg_dump archives -> Parquet -> the two BigQuery tables.

`build_defs` (and the asset names) load on first use, so the converter's modules import
without Dagster: a conversion process carries only what converting needs.
"""

from typing import Any

_ASSETS = {
    "dump": "ci_assets.defs.aggregates.dump_asset",
    "parquet": "ci_assets.defs.aggregates.parquet_asset",
    "build_id_aggregates": "ci_assets.defs.aggregates.tables",
    "submission_date_aggregates": "ci_assets.defs.aggregates.tables",
    "build_defs": "ci_assets.defs.aggregates.assets",
}


def __getattr__(name: str) -> Any:
    if name not in _ASSETS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_ASSETS[name]), name)
