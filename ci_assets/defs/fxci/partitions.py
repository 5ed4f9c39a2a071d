"""Firefox-CI's partitions: one day per table partition (the tables' DAY partitioning column).

end_offset=1: today's partition exists, so the pulse drain writes into it all day.
"""

import dagster as dg

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)
