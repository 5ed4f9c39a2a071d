"""Conditions on one field: equality (by its generated column, or jsonb containment that the GIN
index answers) and LIKE patterns."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from ci_assets.defs.buildhub.search.fields import field
from ci_assets.defs.buildhub.search.sql_text import Params


def equals(name: str, value: Any, params: Params) -> sql.Composable:
    target = field(name)
    if target.column:
        return sql.SQL("{} = {}").format(target.text(), params.bind(target.coerce(value)))
    return sql.SQL("build @> {}::jsonb").format(params.bind(Jsonb(target.contains(value))))


def like(name: str, pattern: str, params: Params) -> sql.Composable:
    return sql.SQL("{} LIKE {}").format(field(name).text(), params.bind(pattern))
