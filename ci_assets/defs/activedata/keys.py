"""ActiveData's key convention: a file's key is its ETL lineage (conventions.md, seed 000).

Ids are joined by `.` (the right-hand id is a step derived from the left-hand one) or
`:` (the left-hand id is a batch aggregating the right-hand one); an id is an integer
when it reads as one (no sign, no leading zero, so it prints back the same), a string
otherwise. The `.json.gz` extension is not part of the lineage. `tc.1623116:162311556.34`
is source `tc`, pulse batch 1623116 aggregating pulse message 162311556, task 34.
"""

from __future__ import annotations

import dataclasses
import re

JOIN, AGGREGATION = ".", ":"
EXTENSION = ".json.gz"
_ID = re.compile(r"[A-Za-z0-9_-]+")
_INTEGER = re.compile(r"0|[1-9][0-9]*")


class KeyConventionError(ValueError):
    """A key that does not follow the convention, with where and why."""


@dataclasses.dataclass(frozen=True)
class Key:
    ids: tuple[int | str, ...]
    operators: tuple[str, ...]  # operators[i] joins ids[i] and ids[i + 1]
    extension: str = EXTENSION

    def __post_init__(self) -> None:
        if not self.ids:
            raise KeyConventionError("a key has at least one id")
        if len(self.operators) != len(self.ids) - 1:
            raise KeyConventionError(
                f"{len(self.ids)} ids need {len(self.ids) - 1} operators, not {len(self.operators)}"
            )
        for op in self.operators:
            if op not in (JOIN, AGGREGATION):
                raise KeyConventionError(f"operator {op!r} is neither '.' (join) nor ':' (aggregation)")
        for i in self.ids:
            text = str(i)
            if (isinstance(i, int) and i < 0) or not _ID.fullmatch(text):
                raise KeyConventionError(f"id {i!r} is not letters, digits, '_' or '-'")
            if isinstance(i, str) and _INTEGER.fullmatch(i):
                raise KeyConventionError(
                    f"id {i!r} reads as the integer {i}: give it as one, so it parses back the same"
                )

    @property
    def lineage(self) -> str:
        """The key without its extension: what records' `_id`s start with."""
        parts = [str(self.ids[0])]
        for op, i in zip(self.operators, self.ids[1:], strict=True):
            parts += [op, str(i)]
        return "".join(parts)

    def __str__(self) -> str:
        return self.lineage + self.extension

    @property
    def source(self) -> int | str:
        return self.ids[0]

    def record_id(self, line: int) -> str:
        return f"{self.lineage}{JOIN}{line}"

    def owns(self, record_id: str) -> bool:
        """Whether `record_id` is this file's (the lineage, then an operator or nothing)."""
        rest = record_id.removeprefix(self.lineage)
        return rest != record_id and (rest == "" or rest[0] in (JOIN, AGGREGATION))


def build_key(ids: list[int | str] | tuple[int | str, ...], operators: list[str] | tuple[str, ...]) -> Key:
    return Key(tuple(ids), tuple(operators))


def parse_key(text: str, extension: str = EXTENSION) -> Key:
    """`tc.1623116:162311556.34.json.gz` -> Key(('tc', 1623116, 162311556, 34), ('.', ':', '.'))."""
    if not text.isascii():
        raise KeyConventionError(f"{text!r}: keys are ASCII")
    if not text.endswith(extension):
        raise KeyConventionError(f"{text!r} does not end in {extension}")
    body = text[: -len(extension)]
    tokens = re.split(r"([.:])", body)
    ids, operators = tokens[0::2], tokens[1::2]
    for position, token in enumerate(ids):
        if token == "":
            why = (
                "an operator with nothing before it"
                if position == 0
                else "a trailing operator"
                if position == len(ids) - 1
                else "two operators in a row"
            )
            raise KeyConventionError(f"{text!r}: empty id {position} ({why})")
    return Key(tuple(int(t) if _INTEGER.fullmatch(t) else t for t in ids), tuple(operators), extension)
