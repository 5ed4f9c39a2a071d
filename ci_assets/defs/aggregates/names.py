"""The aggregate tables' naming convention: `{prefix}_{channel}_{version}_{yyyymmdd}`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

AGGREGATE_TYPES = ("build_id", "submission_date")
# mozaggregator's own tables in the same schema; they match no aggregate name, and are
# refused by name as well so that no pattern change could ever let them through.
BOOKKEEPING_TABLES = frozenset({"table_update_dates", "filter_options"})
_NAME = re.compile(r"^(build_id|submission_date)_([a-z]+)_(\d+)_(\d{8})$")


class TableNameError(ValueError):
    """A table that matched the dump's pattern but is not an aggregate of the partition."""


@dataclasses.dataclass(frozen=True)
class TableName:
    aggregate_type: str
    channel: str
    version: str
    ds_nodash: str

    @property
    def day(self) -> dt.date:
        return dt.datetime.strptime(self.ds_nodash, "%Y%m%d").date()


def dump_pattern(aggregate_type: str, day: dt.date) -> str:
    """pg_dump's `--table` pattern for one type and day (seed 004's `{type}_*_{ds_nodash}*`)."""
    return f"{aggregate_type}_*_{day:%Y%m%d}*"


def parse_table_name(name: str, aggregate_type: str, day: dt.date) -> TableName:
    """The table's type, channel, version and date, checked against the partition."""
    if name in BOOKKEEPING_TABLES:
        raise TableNameError(f"{name} is one of mozaggregator's bookkeeping tables, not an aggregate")
    m = _NAME.match(name)
    if not m:
        raise TableNameError(
            f"{name} does not match {{build_id|submission_date}}_{{channel}}_{{version}}_{{yyyymmdd}} "
            "(channel: lower-case letters only, version: digits)"
        )
    parsed = TableName(*m.groups())
    try:
        table_day = parsed.day
    except ValueError:
        raise TableNameError(f"{name}: {parsed.ds_nodash} is not a date") from None
    if parsed.aggregate_type != aggregate_type or table_day != day:
        raise TableNameError(
            f"{name} is a {parsed.aggregate_type} table of {table_day}, not of the partition ({aggregate_type}, {day})"
        )
    return parsed
