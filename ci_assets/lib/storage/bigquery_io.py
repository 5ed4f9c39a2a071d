"""Polars IO manager for the BigQuery warehouse.

Every write loads the frame into a staging table, then applies it with one
MERGE: for plain assets it deletes the run's partitions and inserts the new
rows, for assets with `primary_key` it upserts by that key within the run's
partitions. One statement is one transaction, so readers see the old partition
or the new one, never half, and re-running a partition never duplicates it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from ci_assets.lib.lazy import lazy
from ci_assets.lib.storage.bigquery_tables import (
    make_client,
    quoted,
    schema_from_frame,
    schema_from_metadata,
    table_id,
)
from ci_assets.lib.storage.frames import dedupe_by_key, output_metadata, primary_key
from ci_assets.lib.storage.outputs import asset_output
from ci_assets.lib.storage.partition_split import dimensions, key_parts, partition_columns
from ci_assets.lib.storage.streamed import Streamable, file_summary, streamed_output, write_streamed
from ci_assets.lib.storage.target import Target
from ci_assets.lib.storage.writer import TableWriter, WriterIOManager

if TYPE_CHECKING:
    from google.cloud import bigquery
else:  # imported on first use (ci_assets.lib.lazy)
    bigquery = lazy("google.cloud.bigquery")
google_errors = lazy("google.api_core.exceptions")

_TIME_TYPES = ("DATE", "TIMESTAMP", "DATETIME")
# The client's default retries server errors for ten minutes; a run should fail sooner.
CREATE_TIMEOUT_SECONDS = 120


class BigQueryWriter(TableWriter):
    project: str
    dataset: str = "ci_assets"
    location: str | None = None
    # An emulator's URL (tests); None talks to Google with application default credentials.
    endpoint: str | None = None

    _client: Any = PrivateAttr(default=None)  # a bigquery.Client once asked for

    def client(self) -> bigquery.Client:
        if self._client is None:
            self._client = make_client(self.project, self.endpoint, self.location)
        return self._client

    def table_for(self, asset_key: dg.AssetKey, metadata: Mapping[str, Any]) -> str:
        return table_id(metadata, asset_key.path, self.project, self.dataset)

    # -- writing ------------------------------------------------------------------
    def write(self, asset: Target, obj: Any) -> dict[str, Any]:
        streamed = streamed_output(asset, obj)
        if streamed is not None:
            return self._load_streamed(asset, streamed)
        output = asset_output(asset, obj)
        if output is None:
            return {}
        metadata, partitions_def, keys = output.metadata, output.partitions_def, output.keys
        frames = list(output.frames.values())
        frame = frames[0] if len(frames) == 1 else pl.concat(frames)
        rows = {key or "all": f.height for key, f in output.frames.items()}
        key_columns = primary_key(metadata)
        deduped = 0
        if key_columns:
            frame, deduped = dedupe_by_key(frame, key_columns, output.label)

        table = self.table_for(asset.asset_key, metadata)
        target = self._ensure_table(table, frame.schema, metadata, partitions_def)
        check_against_schema(table, frame, target.schema)
        buf = io.BytesIO()
        frame.write_parquet(buf)
        buf.seek(0)
        run_filter = self._run_filter(target, metadata, partitions_def, keys)
        self._merge(table, target, [buf], frame.columns, run_filter, key_columns)
        return output_metadata(frame.schema, rows, deduped, table, metadata)

    def _load_streamed(self, asset: Target, streamed: dict[str | None, Streamable]) -> dict[str, Any]:
        """Each partition's output sunk to a local file, loaded as is: never one frame in memory."""
        metadata = asset.definition_metadata
        partitions_def = asset.asset_partitions_def
        keys = list(asset.asset_partition_keys)
        table = self.table_for(asset.asset_key, metadata)
        with tempfile.TemporaryDirectory(prefix="ci-assets-bq-") as tmp:
            files, rows, schema = [], {}, pl.Schema()
            for i, (key, item) in enumerate(streamed.items()):
                files.append(f"{tmp}/{i}.parquet")
                write_streamed(item, files[-1])
                schema, rows[key or "all"] = file_summary(files[-1])
            target = self._ensure_table(table, schema, metadata, partitions_def)
            check_against_schema(table, pl.scan_parquet(files), target.schema)
            run_filter = self._run_filter(target, metadata, partitions_def, keys)
            with contextlib.ExitStack() as stack:
                sources = [stack.enter_context(open(f, "rb")) for f in files]
                self._merge(table, target, sources, schema.names(), run_filter, None)
        return output_metadata(schema, rows, 0, table, metadata)

    def _run_filter(
        self,
        target: bigquery.Table,
        metadata: Mapping[str, Any],
        partitions_def: dg.PartitionsDefinition | None,
        keys: list[str],
    ) -> tuple[str, list[Any]] | None:
        if partitions_def is None:
            return None
        return partition_filter("T", partitions_def, metadata.get("partition_expr"), keys, _column_types(target))

    def _ensure_table(
        self,
        table: str,
        frame_schema: pl.Schema,
        metadata: Mapping[str, Any],
        partitions_def: dg.PartitionsDefinition | None,
    ) -> bigquery.Table:
        client = self.client()
        try:
            return client.get_table(table)
        except google_errors.NotFound:
            pass
        schema = (
            schema_from_metadata(metadata["bigquery_schema"])
            if metadata.get("bigquery_schema")
            else schema_from_frame(frame_schema)
        )
        project, dataset, _ = table.split(".")
        client.create_dataset(bigquery.Dataset(f"{project}.{dataset}"), exists_ok=True)
        new = bigquery.Table(table, schema=schema)
        by_name = {f.name: f for f in schema}
        columns = partition_columns(partitions_def, metadata.get("partition_expr")) if partitions_def else None
        time_column = next((c for c in columns or [] if by_name[c].field_type in _TIME_TYPES), None)
        if time_column:
            new.time_partitioning = bigquery.TimePartitioning(type_="DAY", field=time_column)
        if metadata.get("clustering_fields"):
            new.clustering_fields = list(metadata["clustering_fields"])
        retry = bigquery.DEFAULT_RETRY.with_timeout(CREATE_TIMEOUT_SECONDS)
        return client.create_table(new, exists_ok=True, retry=retry)

    def _merge(
        self,
        table: str,
        target: bigquery.Table,
        sources: Sequence[BinaryIO],
        columns: Sequence[str],
        run_filter: tuple[str, list[Any]] | None,
        key_columns: list[str] | None,
    ) -> None:
        """Load the Parquet `sources` into a staging table, then apply it with one MERGE."""
        client = self.client()
        staging = f"{table}__staging_{uuid.uuid4().hex[:12]}"
        schema = [f for f in target.schema if f.name in columns]
        # Created expiring before anything is loaded: a process killed at any point after this
        # leaves a table that BigQuery deletes by itself.
        created = bigquery.Table(staging, schema=schema)
        created.expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        client.create_table(created)
        try:
            for source in sources:
                load = bigquery.LoadJobConfig(
                    source_format=bigquery.SourceFormat.PARQUET,
                    schema=schema,
                    write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
                )
                load.parquet_options = bigquery.ParquetOptions()
                load.parquet_options.enable_list_inference = True
                client.load_table_from_file(source, staging, job_config=load).result()
            sql, params = merge_statement(table, staging, columns, run_filter, key_columns)
            client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=params)).result()
        finally:
            client.delete_table(staging, not_found_ok=True)

    # -- reading ------------------------------------------------------------------
    def read(self, asset: Target, lazy: bool = False, allow_missing: bool = False) -> pl.DataFrame | pl.LazyFrame:
        # BigQuery cannot tell a partition never stored from an empty one: a missing day reads as no rows.
        metadata = asset.definition_metadata
        table = self.table_for(asset.asset_key, metadata)
        sql = f"SELECT * FROM {quoted(table)}"
        params: list[Any] = []
        try:
            target = self.client().get_table(table)
        except google_errors.NotFound:
            raise FileNotFoundError(f"table {table} does not exist yet; materialize its asset first") from None
        if asset.asset_partitions_def is not None:
            types = _column_types(target)
            where, params = partition_filter(
                "t",
                asset.asset_partitions_def,
                metadata.get("partition_expr"),
                list(asset.asset_partition_keys),
                types,
            )
            sql = f"SELECT * FROM {quoted(table)} AS t WHERE {where}"
        result = self.client().query(sql, job_config=bigquery.QueryJobConfig(query_parameters=params)).result()
        frame = pl.from_arrow(result.to_arrow(create_bqstorage_client=False))
        assert isinstance(frame, pl.DataFrame)
        return frame.lazy() if lazy else frame


class BigQueryIOManager(WriterIOManager, BigQueryWriter):
    """The BigQuery writer as Dagster's IO manager (the cloud warehouse)."""


def partition_filter(
    alias: str,
    partitions_def: dg.PartitionsDefinition,
    partition_expr: Any,
    keys: Sequence[str],
    column_types: Mapping[str, str],
) -> tuple[str, list[Any]]:
    """A condition true exactly for rows of the given partition keys, with its parameters.

    The exact test compares a STRING rebuilt from the row with the Dagster key; a DATE
    column also gets a plain `IN` on its own values so BigQuery prunes partitions.
    """
    columns = partition_columns(partitions_def, partition_expr)
    if columns is None:
        raise ValueError("a partitioned BigQuery asset needs 'partition_expr' metadata naming its column(s)")
    parts, prune, params = [], [], []
    values = [key_parts(partitions_def, k) for k in keys]
    for i, (column, (_, definition)) in enumerate(zip(columns, dimensions(partitions_def), strict=True)):
        ref = f"{alias}.`{column}`"
        if isinstance(definition, dg.TimeWindowPartitionsDefinition):
            fmt = definition.fmt.replace("'", "")
            parts.append(f"FORMAT_TIMESTAMP('{fmt}', CAST({ref} AS TIMESTAMP))")
            if column_types.get(column) == "DATE" and fmt == "%Y-%m-%d":
                days = sorted({dt.date.fromisoformat(v[i]) for v in values})
                prune.append(f"{ref} IN UNNEST(@partition_days_{i})")
                params.append(bigquery.ArrayQueryParameter(f"partition_days_{i}", "DATE", days))
        else:
            parts.append(f"CAST({ref} AS STRING)")
    exact = parts[0] if len(parts) == 1 else "CONCAT(" + ", '|', ".join(parts) + ")"
    params.append(bigquery.ArrayQueryParameter("partition_keys", "STRING", list(keys)))
    return " AND ".join([*prune, f"{exact} IN UNNEST(@partition_keys)"]), params


def merge_statement(
    table: str,
    staging: str,
    columns: Sequence[str],
    run_filter: tuple[str, list[Any]] | None,
    key_columns: list[str] | None,
) -> tuple[str, list[Any]]:
    cols = ", ".join(f"`{c}`" for c in columns)
    values = ", ".join(f"S.`{c}`" for c in columns)
    insert = f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
    in_run, params = run_filter or ("TRUE", [])
    head = f"MERGE {quoted(table)} AS T USING {quoted(staging)} AS S"
    if key_columns:
        on = " AND ".join(f"T.`{c}` = S.`{c}`" for c in key_columns)
        updates = ", ".join(f"`{c}` = S.`{c}`" for c in columns if c not in key_columns)
        matched = f"WHEN MATCHED THEN UPDATE SET {updates} " if updates else ""
        return f"{head} ON {on} AND {in_run} {matched}{insert}", params
    return f"{head} ON FALSE WHEN NOT MATCHED BY SOURCE AND {in_run} THEN DELETE {insert}", params


def check_against_schema(
    table: str, frame: pl.DataFrame | pl.LazyFrame, schema: Sequence[bigquery.SchemaField]
) -> None:
    """Refuse what BigQuery would refuse, before anything is staged, with the column named."""
    fields = {f.name: f for f in schema}
    columns = frame.collect_schema().names()
    unknown = [c for c in columns if c not in fields]
    if unknown:
        raise ValueError(f"{table}: frame has column(s) {unknown} that the table does not")
    required = [f.name for f in schema if f.mode == "REQUIRED"]
    absent = [c for c in required if c not in columns]
    if absent:
        raise ValueError(f"{table}: REQUIRED column(s) {absent} are missing from the frame")
    if not required:
        return
    counts = frame.lazy().select(pl.col(required).null_count()).collect().row(0, named=True)
    nulls = {c: n for c, n in counts.items() if n}
    if nulls:
        raise ValueError(f"{table}: null values in REQUIRED column(s) {nulls}")


def _column_types(table: bigquery.Table) -> dict[str, str]:
    return {f.name: f.field_type for f in table.schema}
