"""The aggregates tables' contract, generated from their schema file (schema.yaml, seed 004's table).

Beyond the schema's types and REQUIRED: the channel is one of Firefox's four, the type one of
the two, `aggregate` a JSON array of integers (the histogram's braces turned into brackets,
facts.md) and `ingest_date` the partition's day. No key: seed 004 states none (a table's rows
are its dimension combinations, not a primary key).
"""

from pathlib import Path

from ci_assets.defs.aggregates.names import AGGREGATE_TYPES
from ci_assets.lib import contracts

SCHEMA_FILE = Path(__file__).parent / "schema.yaml"

CHANNELS = ["nightly", "aurora", "beta", "release"]
_INTEGER = r"-?(?:0|[1-9]\d*)"  # JSON's: no leading zeros
# Empty is kept: the original writes an empty histogram `{}` as `[]` (issue 16's probe).
JSON_INTEGER_ARRAY = rf"^\[(?:{_INTEGER}(?:,{_INTEGER})*)?\]$"
# The converter swaps a histogram's braces for brackets: a histogram that matches this makes an
# `aggregate` that keeps the rule, so the converter checks it once, on the way in (rows.py).
HISTOGRAM = JSON_INTEGER_ARRAY.replace("\\[", "\\{").replace("\\]", "\\}")
AGGREGATE_IS_AN_INTEGER_ARRAY = contracts.matches("aggregate", JSON_INTEGER_ARRAY, "json_integer_array")

CONTRACT = contracts.Contract.from_file(
    "aggregates",
    SCHEMA_FILE,
    rules=[
        contracts.one_of("channel", CHANNELS),
        contracts.one_of("aggregate_type", list(AGGREGATE_TYPES)),
        AGGREGATE_IS_AN_INTEGER_ARRAY,
    ],
    partition="ingest_date",
)
