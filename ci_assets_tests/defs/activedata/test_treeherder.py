"""Treeherder snapshots arriving out of order: the newest by the job's own time wins."""

import datetime as dt
import random
from pathlib import Path

import dagster as dg
import polars as pl

from ci_assets.defs.activedata.assets import BUCKET_ASSETS
from ci_assets.defs.activedata.samples import treeherder_snapshots
from ci_assets.defs.activedata.treeherder import TREEHERDER_BUCKET, treeherder_jobs
from ci_assets_tests.defs.activedata.conftest import local_world, tick


def test_the_newest_snapshot_wins_whatever_order_files_arrive_in(fresh_postgres: str, tmp_path: Path) -> None:
    resources = local_world(tmp_path, fresh_postgres, TREEHERDER_BUCKET)
    store = resources["object_store"]
    rng = random.Random(5)
    jobs = [101, 102, 103]
    # Snapshot 2 (completed) is in th.12; snapshot 1 (running) in th.13, which sorts and arrives last.
    for taken, batch in ((0, 11), (2, 12), (1, 13)):
        key, body = treeherder_snapshots(rng, batch, jobs, taken)
        store.put(TREEHERDER_BUCKET, key, body)
    assert len(tick(resources)) == 1
    today = dt.datetime.now(dt.UTC).date().isoformat()
    snapshots = BUCKET_ASSETS[TREEHERDER_BUCKET]
    assert dg.materialize([snapshots], partition_key=today, resources=resources).success
    result = dg.materialize([snapshots, treeherder_jobs], selection=[treeherder_jobs], resources=resources)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    latest = pl.read_parquet(tmp_path / "lake/activedata/treeherder_jobs/data.parquet")
    assert latest["job_id"].to_list() == jobs
    assert set(latest["state"]) == {"completed"} and set(latest["key"]) == {"th.12.json.gz"}
