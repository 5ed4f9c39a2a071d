"""Elasticsearch's date math for range bounds on date fields: `now-100y`, `now/d`,
`2019-01-01||+1M/M`. The result is an ISO date-time text in buildhub.json's own form
(`2019-01-01T00:00:00Z`), so it compares with the stored dates as they sort. As in
Elasticsearch, a rounded bound rounds down for gte and lt and up (the unit's last second)
for gt and lte. A bound without math is read as Elasticsearch reads a date (`2019`, `2019-01-01`,
an offset, a fraction of a second) and written in the same form: the stored dates hold whole
seconds, so a fraction moves a gte or lt bound up to the next second."""

from __future__ import annotations

import calendar
import datetime as dt
import re

from ci_assets.defs.buildhub.search.fields import SearchError

_STEP = re.compile(r"([+-])(\d{1,6})([yMwdhHms])|/([yMwdhHms])")


def _shift(at: dt.datetime, sign: int, amount: int, unit: str) -> dt.datetime:
    if unit in ("y", "M"):
        months = at.year * 12 + at.month - 1 + sign * amount * (12 if unit == "y" else 1)
        year, month = divmod(months, 12)
        if not 1 <= year <= 9999:
            raise OverflowError
        day = min(at.day, calendar.monthrange(year, month + 1)[1])
        return at.replace(year=year, month=month + 1, day=day)
    seconds = {"w": 604800, "d": 86400, "h": 3600, "H": 3600, "m": 60, "s": 1}[unit]
    return at + dt.timedelta(seconds=sign * amount * seconds)


def _floor(at: dt.datetime, unit: str) -> dt.datetime:
    if unit == "y":
        return at.replace(month=1, day=1, hour=0, minute=0, second=0)
    if unit == "M":
        return at.replace(day=1, hour=0, minute=0, second=0)
    if unit == "w":
        return (at - dt.timedelta(days=at.weekday())).replace(hour=0, minute=0, second=0)
    keep = {"d": 3, "h": 4, "H": 4, "m": 5, "s": 6}[unit]
    parts = [at.year, at.month, at.day, at.hour, at.minute, at.second][:keep]
    return dt.datetime(*parts, *([1] * max(0, 3 - keep)), tzinfo=dt.UTC)


_PARTIAL = re.compile(r"\d{4}(-\d{2})?")


def _date(text: str, op: str) -> dt.datetime:
    """A date as Elasticsearch's strict_date_optional_time reads it (UTC unless it says otherwise),
    to the whole second a stored date can equal."""
    if _PARTIAL.fullmatch(text):
        text += "-01-01"[: 10 - len(text)]
    try:
        at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"failed to parse date field [{text}]") from None
    at = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    if at.microsecond and op in ("gte", "lt"):
        at += dt.timedelta(seconds=1)
    return at.replace(microsecond=0)


def resolve(value: str, op: str, now: dt.datetime | None = None) -> str:
    """`value` as the date-time text it means for range operator `op`."""
    if value.startswith("now"):
        anchor, expression = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0), value[3:]
    elif "||" in value:
        text, expression = value.split("||", 1)
        anchor = _date(text, "gt")
    else:
        anchor, expression = _date(value, op), ""
    at, position = anchor, 0
    try:
        while position < len(expression):
            step = _STEP.match(expression, position)
            if not step:
                raise SearchError(f"cannot read the date math {value!r} at {expression[position:]!r}")
            sign, amount, unit, rounding = step.groups()
            if rounding:
                at = _floor(at, rounding)
                if op in ("gt", "lte"):
                    at = _shift(at, 1, 1, rounding) - dt.timedelta(seconds=1)
            else:
                at = _shift(at, 1 if sign == "+" else -1, int(amount), unit)
            position = step.end()
    except (OverflowError, ValueError):
        raise SearchError(f"the date math {value!r} leaves the years 1-9999") from None
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
