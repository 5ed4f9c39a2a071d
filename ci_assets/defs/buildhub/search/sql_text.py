"""Pieces of SQL text the search composes: bound parameters, boolean joins, LIKE patterns."""

from __future__ import annotations

from typing import Any

from psycopg import sql

TRUE = sql.SQL("TRUE")


class Params(dict[str, Any]):
    """Named parameters, so pieces of one statement can be bound in any order."""

    def bind(self, value: Any) -> sql.Composable:
        name = f"p{len(self)}"
        self[name] = value
        return sql.Placeholder(name)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def wildcard_pattern(text: str) -> str:
    return escape_like(text).replace("*", "%").replace("?", "_")


def any_of(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)) if parts else sql.SQL("FALSE")


def none_of(parts: list[sql.Composable]) -> sql.Composable:
    """Not one of `parts`: a comparison with a missing field is unknown (NULL) in SQL, and a
    document without the field does not match the clause, so NULL counts as false."""
    return sql.SQL("({}) IS NOT TRUE").format(any_of(parts))


def all_of(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(" AND ").join(parts)) if parts else TRUE
