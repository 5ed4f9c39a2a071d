"""The searchable fields: every leaf of buildhub.json's schema, with keyword semantics.

A field is a dotted path (`target.version`); its SQL is a jsonb path over the
`build` column. Strings and dates compare as text (ISO dates sort as they read),
integers as numbers. The names come from the schema file, never a list here.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from psycopg import sql

from ci_assets.defs.buildhub.documents import schema
from ci_assets.defs.buildhub.store import ORDER_COLUMNS, SEARCH_COLUMNS


class SearchError(ValueError):
    """A request the search cannot answer; the API turns it into HTTP 400."""


@dataclasses.dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    kind: str  # "string" | "integer" | "date"

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def column(self) -> str | None:
        """The generated column holding this field, when it has one (indexed, no jsonb to parse)."""
        return SEARCH_COLUMNS.get(self.path)

    def text(self) -> sql.Composable:
        if self.column:
            return sql.Identifier(self.column)
        return sql.SQL("(build #>> {})").format(sql.Literal(list(self.path)))

    def order(self) -> sql.Composable:
        """The value as it sorts: a version by its release order (the store's key), else as it compares."""
        column = ORDER_COLUMNS.get(self.path)
        return sql.Identifier(column) if column else self.expr()

    def expr(self) -> sql.Composable:
        """The value as it compares: a number for integers, text otherwise."""
        if self.kind == "integer":
            return sql.SQL("((build #>> {})::numeric)").format(sql.Literal(list(self.path)))
        return self.text()

    def coerce(self, value: Any) -> Any:
        if isinstance(value, dict | list) or value is None:
            raise SearchError(f"field {self.name!r} takes a single value, got {value!r}")
        if self.kind == "integer":
            try:
                return int(value)
            except (TypeError, ValueError):
                raise SearchError(f"field {self.name!r} is a number; {value!r} is not") from None
        return str(value)

    def contains(self, value: Any) -> dict[str, Any]:
        """The jsonb containment document for `field == value` (what the GIN index serves)."""
        document: Any = self.coerce(value)
        for part in reversed(self.path):
            document = {part: document}
        return dict(document)


def _leaves(node: dict[str, Any], prefix: tuple[str, ...]) -> list[Field]:
    out = []
    for name, spec in node.get("properties", {}).items():
        path = (*prefix, name)
        if spec.get("type") == "object":
            out += _leaves(spec, path)
        else:
            kind = (
                "integer"
                if spec.get("type") == "integer"
                else "date"
                if spec.get("format") == "date-time"
                else "string"
            )
            out.append(Field(path, kind))
    return out


@functools.cache
def fields() -> dict[str, Field]:
    return {f.name: f for f in _leaves(schema(), ())}


def field(name: Any) -> Field:
    if not isinstance(name, str):
        raise SearchError(f"a field name must be a string, got {name!r}")
    found = fields().get(name.removesuffix(".keyword"))
    if found is None:
        raise SearchError(f"unknown field {name!r}")
    return found
