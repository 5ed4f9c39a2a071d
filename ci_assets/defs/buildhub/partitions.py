"""Buildhub's partitions: the upload day of a key, and one partition per build id."""

import dagster as dg

# Buildhub2 went live in 2018; end_offset=1 makes today's uploads a partition already.
UPLOAD_DAYS = dg.DailyPartitionsDefinition(start_date="2018-01-01", end_offset=1)
BUILD_IDS = dg.DynamicPartitionsDefinition(name="buildhub_build_ids")
