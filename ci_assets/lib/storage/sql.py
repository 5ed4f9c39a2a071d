"""Run derived-table SQL written once, in BigQuery dialect, in either environment.

In the cloud the query goes to BigQuery as written. Locally sqlglot rewrites it
for DuckDB and every `project.dataset.table` reference is pointed at that
table's Parquet files in the local warehouse, so one query serves both.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from ci_assets.lib.lazy import lazy
from ci_assets.lib.storage.bigquery_tables import make_client

if TYPE_CHECKING:
    import duckdb
    import sqlglot
    from google.cloud import bigquery
    from sqlglot import exp
else:  # imported on first use (ci_assets.lib.lazy)
    bigquery, sqlglot, exp = lazy("google.cloud.bigquery"), lazy("sqlglot"), lazy("sqlglot.expressions")
    duckdb = lazy("duckdb")

Params = Mapping[str, Any]


class UnknownTableError(LookupError):
    pass


class SqlRunner(dg.ConfigurableResource):
    """Interface every SQL runner offers; systems depend on this, not on an engine."""

    def query(self, sql: str, params: Params | None = None) -> pl.DataFrame:
        raise NotImplementedError


def _scalar_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP" if value.tzinfo else "DATETIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, bytes):
        return "BYTES"
    return "STRING"


def bigquery_parameters(params: Params) -> list[Any]:
    out: list[Any] = []
    for name, value in params.items():
        if isinstance(value, list | tuple | set):
            items = list(value)
            kind = _scalar_type(items[0]) if items else "STRING"
            out.append(bigquery.ArrayQueryParameter(name, kind, items))
        else:
            out.append(bigquery.ScalarQueryParameter(name, _scalar_type(value), value))
    return out


class BigQuerySqlRunner(SqlRunner):
    project: str
    location: str | None = None
    endpoint: str | None = None

    _client: Any = PrivateAttr(default=None)  # a bigquery.Client once asked for

    def query(self, sql: str, params: Params | None = None) -> pl.DataFrame:
        if self._client is None:
            self._client = make_client(self.project, self.endpoint, self.location)
        config = bigquery.QueryJobConfig(query_parameters=bigquery_parameters(params or {}))
        result = self._client.query(sql, job_config=config).result()
        frame = pl.from_arrow(result.to_arrow(create_bqstorage_client=False))
        assert isinstance(frame, pl.DataFrame)
        return frame


class DuckDBSqlRunner(SqlRunner):
    """BigQuery SQL over the local warehouse: `<warehouse_dir>/<project>/<dataset>/<table>/`."""

    warehouse_dir: str
    default_project: str = "local"

    def table_glob(self, project: str | None, dataset: str, table: str) -> str:
        directory = Path(self.warehouse_dir, project or self.default_project, dataset, table)
        if not any(directory.rglob("*.parquet")):
            raise UnknownTableError(
                f"table {'.'.join(p for p in (project, dataset, table) if p)} has no data in the "
                f"local warehouse ({directory}); materialize its asset first"
            )
        return str(directory / "**" / "*.parquet")

    def to_duckdb(self, sql: str) -> tuple[str, set[str]]:
        """The query in DuckDB's dialect, with warehouse tables replaced by Parquet scans,
        and the names of the parameters it uses (DuckDB refuses unused ones)."""
        statements = sqlglot.parse(sql, read="bigquery")
        out, used = [], set()
        for tree in statements:
            assert tree is not None
            used |= {p.name for p in tree.find_all(exp.Parameter)}
            for table in list(tree.find_all(exp.Table)):
                if not table.db:  # a CTE or an unqualified name: not a warehouse table
                    continue
                glob = self.table_glob(table.catalog or None, table.db, table.name).replace("'", "''")
                scan = (
                    sqlglot.parse_one(
                        f"SELECT * FROM read_parquet('{glob}', union_by_name = true, hive_partitioning = false)",
                        read="duckdb",
                    )
                    .args["from_"]
                    .this
                )
                scan.set("alias", table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name)))
                table.replace(scan)
            out.append(tree.sql(dialect="duckdb"))
        return ";\n".join(out), used

    def query(self, sql: str, params: Params | None = None) -> pl.DataFrame:
        translated, used = self.to_duckdb(sql)
        missing = used - set(params or {})
        if missing:
            raise ValueError(f"query uses parameter(s) {sorted(missing)} that were not given")
        values = {k: (list(v) if isinstance(v, tuple | set) else v) for k, v in (params or {}).items() if k in used}
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")  # BigQuery's DATE(timestamp) is the UTC day
            return con.sql(translated, params=values or None).pl()
