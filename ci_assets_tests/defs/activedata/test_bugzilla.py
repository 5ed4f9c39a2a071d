"""Bugzilla snapshots by [bug_id, modified_ts]: a snapshot written again replaces the first write;
a bug made private (its file gone) leaves the table when its day is run again."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg

from ci_assets.defs.activedata.assets import BUGZILLA_ASSET
from ci_assets.defs.activedata.bugzilla import bugzilla_snapshots
from ci_assets.defs.activedata.samples import bugzilla_file
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets_tests.defs.activedata.conftest import local_world, tick

# Not the default: the Bugzilla asset reads whichever bucket the settings name.
BUGZILLA_BUCKET = "bugzilla-snapshots-elsewhere"


def test_snapshots_are_identified_by_bug_and_time(fresh_postgres: str, tmp_path: Path) -> None:
    resources = local_world(tmp_path, fresh_postgres, BUGZILLA_BUCKET)
    resources["activedata_settings"] = ActiveDataSettings(buckets=[BUGZILLA_BUCKET], bugzilla_bucket=BUGZILLA_BUCKET)
    store = resources["object_store"]
    store.put(BUGZILLA_BUCKET, *bugzilla_file(1, [(1, 100, "NEW"), (1, 200, "ASSIGNED"), (2, 100, "NEW")]))
    store.put(BUGZILLA_BUCKET, *bugzilla_file(2, [(1, 100, "UNCONFIRMED")]))  # history corrected
    store.put(BUGZILLA_BUCKET, *bugzilla_file(3, [(3, 100, "NEW")]))
    assert len(tick(resources)) == 1
    today = dt.datetime.now(dt.UTC).date().isoformat()

    def run() -> pl.DataFrame:
        assert dg.materialize([BUGZILLA_ASSET], partition_key=today, resources=resources).success
        result = dg.materialize(
            [BUGZILLA_ASSET, bugzilla_snapshots], selection=[bugzilla_snapshots], resources=resources
        )
        assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
        table = pl.read_parquet(tmp_path / "lake/activedata/bugzilla_snapshots/data.parquet")
        return table.select("bug_id", "modified_ts", "bug_status").sort("bug_id", "modified_ts")

    assert run().rows() == [(1, 100, "UNCONFIRMED"), (1, 200, "ASSIGNED"), (2, 100, "NEW"), (3, 100, "NEW")]
    store.delete(BUGZILLA_BUCKET, "bz.3.json.gz")  # bug 3 was made private
    assert run().rows() == [(1, 100, "UNCONFIRMED"), (1, 200, "ASSIGNED"), (2, 100, "NEW")]


def test_a_snapshot_without_its_identity_is_quarantined_with_the_rule(fresh_postgres: str, tmp_path: Path) -> None:
    resources = local_world(tmp_path, fresh_postgres, BUGZILLA_BUCKET)
    resources["activedata_settings"] = ActiveDataSettings(buckets=[BUGZILLA_BUCKET], bugzilla_bucket=BUGZILLA_BUCKET)
    store = resources["object_store"]
    store.put(BUGZILLA_BUCKET, *bugzilla_file(1, [(1, 100, "NEW"), (2, None, "NEW"), (None, 300, "NEW")]))  # type: ignore[list-item]
    assert len(tick(resources)) == 1
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert dg.materialize([BUGZILLA_ASSET], partition_key=today, resources=resources).success
    result = dg.materialize([BUGZILLA_ASSET, bugzilla_snapshots], selection=[bugzilla_snapshots], resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("activedata__bugzilla_snapshots")[0].metadata
    assert (meta["records"].value, meta["rows"].value) == (3, 1)
    assert meta["rejected_by_rule"].value == {"bug_id: not_nullable": 1, "modified_ts: not_nullable": 1}
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["one_row_per_snapshot"].passed and not checks["records_have_their_identity"].passed
    with psycopg.connect(fresh_postgres) as conn:
        rows = conn.execute("SELECT locator, reason FROM quarantine ORDER BY locator").fetchall()
    assert rows == [
        ("bz.1.json.gz#L2", "modified_ts: not_nullable (value null)"),
        ("bz.1.json.gz#L3", "bug_id: not_nullable (value null)"),
    ]
    assert pl.read_parquet(tmp_path / "lake/activedata/bugzilla_snapshots/data.parquet")["bug_id"].to_list() == [1]
