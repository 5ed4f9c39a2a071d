"""The aggregates' partitions: day x aggregate type, a grid in the UI.

The two tables each hold one type, so each is partitioned by day x that one type:
its lineage then points at exactly its own type's Parquet partition.
"""

import datetime as dt

import dagster as dg

from ci_assets.defs.aggregates.names import AGGREGATE_TYPES

# The oldest aggregate tables are build_id ones of 2013 (facts.md: build_id_aurora_0_20130414).
DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01")
PARTITIONS = dg.MultiPartitionsDefinition({"day": DAYS, "type": dg.StaticPartitionsDefinition(list(AGGREGATE_TYPES))})
TABLE_PARTITIONS = {
    t: dg.MultiPartitionsDefinition({"day": DAYS, "type": dg.StaticPartitionsDefinition([t])}) for t in AGGREGATE_TYPES
}


# A table partition's key ("2019-12-01|build_id") is the key of the Parquet partition it loads.
TABLE_MAPPING = dg.IdentityPartitionMapping()


def split_key(partition_key: str) -> tuple[dt.date, str]:
    """("2019-12-01|build_id") -> (date(2019, 12, 1), "build_id")."""
    by_dim = PARTITIONS.get_partition_key_from_str(partition_key).keys_by_dimension
    return dt.date.fromisoformat(by_dim["day"]), by_dim["type"]


def partition_key(day: dt.date, aggregate_type: str) -> str:
    return dg.MultiPartitionKey({"day": day.isoformat(), "type": aggregate_type})
