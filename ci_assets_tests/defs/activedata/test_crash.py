"""An ActiveData day whose run is SIGKILLed while its partition is being written, then run again."""

import datetime as dt
import gzip
import json
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg

from ci_assets.defs.activedata.assets import BUCKET_ASSETS, INVENTORY
from ci_assets_tests.crash import FreezePoint, crash_mid_write
from ci_assets_tests.defs.activedata.conftest import local_world, tick

BUCKET = "active-data-perf"
FIRST, SECOND = "tc.1623116:162311556.34.json.gz", "tc.1623116:162311556.35.json.gz"


def _file(key: str, n: int) -> bytes:
    stem = key.removesuffix(".json.gz")
    return gzip.compress(b"".join(json.dumps({"_id": f"{stem}.{i}", "n": i}).encode() + b"\n" for i in range(n)))


def materialize_day(tmp_path: Path, dsn: str, day: str) -> None:
    result = dg.materialize([BUCKET_ASSETS[BUCKET]], partition_key=day, resources=local_world(tmp_path, dsn, BUCKET))
    assert result.success


def test_a_day_killed_mid_write_keeps_its_old_partition_and_a_rerun_stores_each_record_once(
    fresh_postgres: str, tmp_path: Path
) -> None:
    resources = local_world(tmp_path, fresh_postgres, BUCKET)
    store = resources["object_store"]
    day = dt.datetime.now(dt.UTC).date().isoformat()
    store.put(BUCKET, FIRST, _file(FIRST, 300))
    assert len(tick(resources)) == 1
    materialize_day(tmp_path, fresh_postgres, day)
    [partition] = (tmp_path / "lake").rglob(f"arrival_day={day}/data.parquet")

    def ids() -> list[str]:
        return sorted(pl.read_parquet(partition)["_id"].to_list())

    old = ids()
    store.put(BUCKET, SECOND, _file(SECOND, 200))  # the same day gets a second file
    assert len(tick(resources)) == 1

    def reader() -> None:  # the new file is written beside the partition, not yet in its place
        assert list(partition.parent.glob(".ci-assets-partial-*")), "the run is not in the middle of its write"
        assert ids() == old

    crash_mid_write(
        materialize_day, (tmp_path, fresh_postgres, day), FreezePoint("polars:DataFrame.write_parquet"), reader
    )
    assert ids() == old
    with psycopg.connect(fresh_postgres) as conn:  # the killed run had stored nothing: no key counts as ingested
        states = {r.key: r.state for r in INVENTORY.keys_for_days(conn, BUCKET, [dt.date.fromisoformat(day)])}
    assert states[SECOND] is None

    materialize_day(tmp_path, fresh_postgres, day)
    expected = sorted([f"{FIRST[:-8]}.{i}" for i in range(300)] + [f"{SECOND[:-8]}.{i}" for i in range(200)])
    assert ids() == expected  # every record of both files, each once
    assert not list(tmp_path.rglob(".ci-assets-partial-*")), "the killed run's half-written file is still there"
