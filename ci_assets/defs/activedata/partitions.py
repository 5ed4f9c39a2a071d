"""ActiveData's partitions: the day a file arrived in its bucket (UTC), from the ETL's first year."""

import dagster as dg

# end_offset=1: today's partition exists, so files that arrived today run today.
ARRIVAL_DAYS = dg.DailyPartitionsDefinition(start_date="2015-01-01", end_offset=1)
