"""Polars IO managers that keep one Parquet file per asset partition in an object store.

Layout: `<prefix>/<asset key or table name parts>/<col>=<value>/.../data.parquet`
(hive-style, so DuckDB and Spark read a whole asset as one table). Each file is
replaced atomically by the store, so a crash mid-write leaves the previous file
whole, and writing a partition twice leaves one copy.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.lib.storage.bigquery_tables import table_id
from ci_assets.lib.storage.frames import dedupe_by_key, output_metadata, primary_key, upsert
from ci_assets.lib.storage.object_store import BucketNotFoundError
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.outputs import asset_output
from ci_assets.lib.storage.partition_split import hive_segments
from ci_assets.lib.storage.streamed import Streamable, file_summary, streamed_output, write_streamed
from ci_assets.lib.storage.target import Target
from ci_assets.lib.storage.writer import TableWriter, WriterIOManager

FILE_NAME = "data.parquet"


class ParquetWriter(TableWriter):
    """Parquet under `<bucket>/<prefix>/...` of `store` (local disk or S3, a nested resource)."""

    store: ObjectStoreResource
    bucket: str
    prefix: str = ""
    # "project.dataset": lay every asset out as a warehouse table (as the BigQuery IO
    # manager names it), so the SQL runner finds it by table name. None: by asset key.
    table_namespace: str | None = None
    write_threads: int = 4

    # -- layout ---------------------------------------------------------------
    def asset_dir(self, asset_key: dg.AssetKey, metadata: Mapping[str, Any]) -> str:
        if self.table_namespace:
            project, dataset = self.table_namespace.split(".")
            parts = table_id(metadata, asset_key.path, project, dataset).split(".")
        elif metadata.get("table"):
            parts = str(metadata["table"]).split(".")
        else:
            parts = list(asset_key.path)
        return "/".join(p for p in [self.prefix.strip("/"), *parts] if p)

    def partition_path(
        self,
        asset_key: dg.AssetKey,
        metadata: Mapping[str, Any],
        partitions_def: dg.PartitionsDefinition | None,
        partition_key: str | None,
    ) -> str:
        base = self.asset_dir(asset_key, metadata)
        if partitions_def is None or partition_key is None:
            return f"{base}/{FILE_NAME}"
        segments = hive_segments(partitions_def, partition_key, metadata.get("partition_expr"))
        return "/".join([base, *segments, FILE_NAME])

    # -- reading and writing one file ------------------------------------------
    def _read(self, key: str, lazy: bool) -> pl.DataFrame | pl.LazyFrame:
        store = self.store
        path = store.local_path(self.bucket, key)
        if path is not None:
            return pl.scan_parquet(path) if lazy else pl.read_parquet(path)
        frame = pl.read_parquet(io.BytesIO(store.get_bytes(self.bucket, key)))
        return frame.lazy() if lazy else frame

    def _staged(self, key: str) -> contextlib.AbstractContextManager[str]:
        self.store.sweep_leftovers(self.bucket, key)  # a partition killed mid-write before
        return self.store.staged_file(self.bucket, key)

    def _write(self, key: str, frame: pl.DataFrame) -> None:
        with self._staged(key) as path:
            frame.write_parquet(path)

    # -- the writer -----------------------------------------------------------------
    def write(self, target: Target, obj: Any) -> dict[str, Any]:
        streamed = streamed_output(target, obj)
        if streamed is not None:
            return self._store_streamed(target, streamed)
        output = asset_output(target, obj)
        if output is None:
            return {}
        metadata, partitions_def = output.metadata, output.partitions_def
        key_columns = primary_key(metadata)

        def store_one(item: tuple[str | None, pl.DataFrame]) -> tuple[int, int]:
            partition_key, frame = item
            path = self.partition_path(target.asset_key, metadata, partitions_def, partition_key)
            deduped = 0
            if key_columns:
                frame, deduped = dedupe_by_key(frame, key_columns, output.label)
                try:  # one read, no existence check first: a missing file is simply no rows yet
                    existing = self._read(path, lazy=False)
                except FileNotFoundError:
                    existing = None
                frame = upsert(existing, frame, key_columns)  # type: ignore[arg-type]
            self._write(path, frame)
            return frame.height, deduped

        # Partitions are independent files: writing them side by side overlaps one file's
        # fsync or upload with the next one's encoding.
        with ThreadPoolExecutor(max_workers=self.write_threads) as pool:
            results = list(pool.map(store_one, output.frames.items()))
        rows = {key or "all": height for key, (height, _) in zip(output.frames, results, strict=True)}
        location = self.store.uri(self.bucket, self.asset_dir(target.asset_key, metadata))
        return output_metadata(output.schema, rows, sum(d for _, d in results), location, metadata)

    def _store_streamed(self, target: Target, streamed: dict[str | None, Streamable]) -> dict[str, Any]:
        metadata = target.definition_metadata
        rows, schema = {}, pl.Schema()
        for key, item in streamed.items():
            path = self.partition_path(target.asset_key, metadata, target.asset_partitions_def, key)
            with self._staged(path) as dest:
                write_streamed(item, dest)
                schema, rows[key or "all"] = file_summary(dest)
        location = self.store.uri(self.bucket, self.asset_dir(target.asset_key, metadata))
        return output_metadata(schema, rows, 0, location, metadata)

    def read(self, target: Target, lazy: bool = False, allow_missing: bool = False) -> pl.DataFrame | pl.LazyFrame:
        metadata = target.definition_metadata
        if not target.has_asset_partitions:
            return self._read(self.partition_path(target.asset_key, metadata, None, None), lazy)

        partitions_def = target.asset_partitions_def
        # One listing instead of a request per partition: a range can be years of days.
        base = self.asset_dir(target.asset_key, metadata)
        try:
            stored = {o.key for o in self.store.list(self.bucket, prefix=base + "/")}
        except BucketNotFoundError:
            stored = set()
        paths, missing = [], []
        for key in target.asset_partition_keys:
            path = self.partition_path(target.asset_key, metadata, partitions_def, key)
            if path in stored:
                paths.append(path)
            else:
                missing.append(key)
        if missing and not allow_missing:
            raise FileNotFoundError(
                f"{target.label} has no stored data for partition(s) {missing[:5]} "
                f"({len(missing)} missing); materialize them first, or set input metadata "
                "allow_missing_partitions=True"
            )
        if not paths:
            return pl.LazyFrame() if lazy else pl.DataFrame()
        return self._read_many(paths, lazy)

    def _read_many(self, keys: list[str], lazy: bool) -> pl.DataFrame | pl.LazyFrame:
        store = self.store
        local = [store.local_path(self.bucket, k) for k in keys]
        if all(local):
            try:  # polars reads the files in parallel
                return pl.scan_parquet(local) if lazy else pl.read_parquet(local)
            except pl.exceptions.SchemaError:
                pass  # the files disagree (the schema evolved): align them column by column
        with ThreadPoolExecutor(max_workers=self.write_threads) as pool:
            frames = list(pool.map(lambda k: self._read(k, lazy), keys))
        return pl.concat(frames, how="diagonal_relaxed")  # type: ignore[type-var]


class ParquetIOManager(WriterIOManager, ParquetWriter):
    """The Parquet writer as Dagster's IO manager (lake and local warehouse)."""
