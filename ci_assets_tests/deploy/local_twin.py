"""The deployed topology's runs replayed on the embedded local default, to hold what the cloud stored
against what a local run stores from the same input.

The twin is seeded by `seed_cloud.seed` with the same arguments and the same clock, so both
environments hold the same objects, dumps and pulse messages. Each of the cloud's runs (its job,
assets, partition tags and run config, oldest first; a run launched twice is replayed once) is then
executed in-process against the local resources. What each run materialized is read back in both
environments by the writers the code location stores it with (the lake's, the warehouse's), and
Buildhub's store, which no writer holds, from PostgreSQL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl
import yaml

from ci_assets.defs.resources import resources_for
from ci_assets.lib import env
from ci_assets.lib.storage.target import Target
from ci_assets_tests.deploy.seed_cloud import seed

KEPT_TAGS = ("dagster/partition", "dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
KEPT_TAGS += tuple(f"dagster/partition/{d}" for d in ("day", "type"))


@dataclasses.dataclass(frozen=True)
class Replay:
    job: str
    assets: tuple[tuple[str, ...], ...]
    tags: tuple[tuple[str, str], ...]
    run_config: str  # YAML, as the run recorded it

    @classmethod
    def of(cls, run: dict[str, Any]) -> Replay:
        """The cloud run (from the webserver's GraphQL) as what to execute again."""
        tags = tuple(sorted((t["key"], t["value"]) for t in run["tags"] if t["key"] in KEPT_TAGS))
        assets = tuple(sorted(tuple(a["path"]) for a in run["assetSelection"] or []))
        return cls(run["jobName"], assets, tags, run.get("runConfigYaml") or "{}")


def local_settings(home: str) -> env.Settings:
    return env.read({"CI_ASSETS_HOME": home, "CI_ASSETS_ENV": "local"})


def seed_twin(settings: env.Settings, counts: tuple[int, int, int], now: dt.datetime) -> None:
    wanted = ("object_store", "lake_io_manager", "aggregates_source", "postgres", "activedata_settings",
              "buildhub_settings", "pulse")  # fmt: skip
    with dg.build_resources({k: v for k, v in resources_for(settings).items() if k in wanted}) as built:
        seed({k: getattr(built, k) for k in wanted}, *counts, now=now)


def record_buildhub_keys(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """One tick of Buildhub's listing sensor: the keys in the inventory, as the cloud's sensor recorded
    them before its runs (its run requests are the cloud's runs, replayed below)."""
    sensor = defs.resolve_sensor_def("buildhub_new_keys")
    with dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources) as context:
        sensor.evaluate_tick(context)


def replay(
    defs: dg.Definitions, runs: list[Replay], instance: dg.DagsterInstance
) -> list[tuple[dg.AssetKey, str | None]]:
    """Execute the runs in order with the local resources; the (asset, partition) pairs they stored."""
    stored: list[tuple[dg.AssetKey, str | None]] = []
    for run in dict.fromkeys(runs):  # once each, in order
        asset_job = run.job == "__ASSET_JOB"
        job = defs.resolve_implicit_global_asset_job_def() if asset_job else defs.resolve_job_def(run.job)
        tags = dict(run.tags)
        config = yaml.safe_load(run.run_config) or {}
        result = job.execute_in_process(
            run_config=config,
            tags=tags,
            partition_key=tags.get("dagster/partition"),
            asset_selection=[dg.AssetKey(list(a)) for a in run.assets] or None,
            instance=instance,
            raise_on_error=False,
        )
        assert result.success, f"the local replay of {run} failed"
        events = result.get_asset_materialization_events()
        stored += [(e.materialization.asset_key, e.materialization.partition) for e in events]
    return list(dict.fromkeys(stored))


# Where each stored asset is read back from: the writer under its IO manager, or the one its
# multi-asset writes through; or why it is compared elsewhere.
READER = {"lake_io_manager": "lake_io_manager", "warehouse_io_manager": "warehouse_io_manager"}
WRITES_ITSELF = {"fxci/tasks_v2": "warehouse_writer", "fxci/task_runs_v1": "warehouse_writer"}
ELSEWHERE = {
    "buildhub/builds": "PostgreSQL's buildhub.main_build, compared by build hash",
    "aggregates/dump": "the pg_dump archives of the source, which aggregates/parquet holds as rows",
    "sources/sources_json": "the registry, which names each environment's own buckets",
    "sources/schema_json": "the registry's schema, the same file in every environment",
}


def reader_of(defs: dg.Definitions, key: dg.AssetKey) -> str | None:
    """The resource that reads the asset's stored partitions back (None: compared elsewhere)."""
    name = key.to_user_string()
    if name in ELSEWHERE:
        return None
    if name in WRITES_ITSELF:
        return WRITES_ITSELF[name]
    return READER[defs.resolve_assets_def(key).get_io_manager_key_for_asset_key(key)]


@contextlib.contextmanager
def readers(settings: env.Settings) -> Iterator[Any]:
    """The environment's writers, built as a run builds them."""
    wanted = ("lake_io_manager", "warehouse_io_manager", "warehouse_writer")
    with dg.build_resources({k: v for k, v in resources_for(settings).items() if k in wanted}) as built:
        yield built


def rows(defs: dg.Definitions, built: Any, reader: str, key: dg.AssetKey, partition: str | None) -> list[str]:
    """The asset's stored partition, as sorted JSON rows (the environments' types print alike)."""
    spec = defs.resolve_assets_def(key).specs_by_key[key]
    frame = getattr(built, reader).read(Target.of_spec(spec, [partition] if partition else []))
    frame = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    return sorted(json.dumps(row, default=str, sort_keys=True) for row in frame.to_dicts())
