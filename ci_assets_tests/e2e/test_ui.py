"""The Dagster UI in headless Chromium against `ci-assets dev`: the paths a data engineer takes.

Each step leaves a screenshot in build/screenshots/ (or $CI_ASSETS_SCREENSHOTS). What the page
shows is checked in the page; what it claims is checked again behind it (GraphQL, the lake).
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path

import polars as pl
from playwright.sync_api import Page, expect

from ci_assets.cli import SYSTEMS
from ci_assets.defs.activedata.samples import bucket_file
from ci_assets.lib.storage.local_store import LocalObjectStore
from ci_assets_tests.e2e import queries, ui
from ci_assets_tests.e2e.conftest import DEMO_TAG, WATCHED_BUCKETS
from ci_assets_tests.e2e.platform import DevPlatform

WORKER_METRICS = ["fxci", "worker_metrics_v1"]
SENSOR = "activedata_new_keys"


def days_ago(n: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=n)).isoformat()


def test_the_asset_graph_shows_each_systems_group(platform: DevPlatform, page: Page, screenshots: Path) -> None:
    page.goto(f"{platform.url}/asset-groups")
    graph = page.get_by_text("Global asset lineage")
    expect(graph).to_be_visible()
    for system in SYSTEMS:
        expect(page.get_by_text(system, exact=True).first).to_be_visible()
    page.screenshot(path=screenshots / "01_asset_graph.png", animations="disabled")
    # One group opened: its assets are there by name.
    page.goto(f"{platform.url}/locations/ci_assets/asset-groups/aggregates")
    for name in ("dump", "parquet", "build_id_aggregates", "submission_date_aggregates"):
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    page.screenshot(path=screenshots / "02_aggregates_group.png", animations="disabled")


def test_the_first_start_runs_each_systems_most_recent_demo_day(platform: DevPlatform) -> None:
    """`make dev` launches ordinary runs (in the run list, through the queue), so every group shows
    materializations, checks and metadata before the user launches anything. Buildhub's come from its
    sensor, which is on from the start (pointed at an empty prefix in these tests)."""
    runs = platform.runs(tags=[DEMO_TAG])
    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    assert sorted(t["system"] for t in tags) == sorted(
        [*["activedata"] * 3, *["aggregates"] * 4, *["buildhub"] * 2, "fxci", "fxci", "sources"]
    )
    assert all(run["status"] == "SUCCESS" for run in runs), [(r["runId"], r["status"]) for r in runs]
    today, yesterday = days_ago(0), days_ago(1)
    drained = queries.materializations(platform, ["fxci", "tasks_v2"], [today])[today]
    assert drained["received"] > 0 and drained["received"] == sum(
        drained[k] for k in ("accepted", "duplicate", "rejected", "ignored")
    )
    assert queries.materializations(platform, ["activedata", "test_result"], [today])[today]["accepted"] > 0
    parquet = queries.materializations(platform, ["aggregates", "parquet"], [f"{yesterday}|build_id"])
    assert parquet[f"{yesterday}|build_id"]["received"] > 0
    assert queries.materializations(platform, ["sources", "sources_json"], None)


def test_materialize_one_partition_from_the_ui(platform: DevPlatform, page: Page, screenshots: Path) -> None:
    day = days_ago(1)  # the demo has uptime series for the last seven days
    ui.open_materialize_dialog(page, platform.url, "fxci/worker_metrics_v1")
    ui.select_partitions(page, day)
    page.screenshot(path=screenshots / "03_materialize_dialog.png", animations="disabled")
    run_page = ui.launch(page, "Launch 1 run")
    assert run_page.startswith("/runs/")
    ui.wait_for_run_success(page)
    expect(page.get_by_text(f"partition: {day}").first).to_be_visible()
    page.screenshot(path=screenshots / "04_materialize_run_success.png", animations="disabled")

    stored = queries.materializations(platform, WORKER_METRICS, [day])
    assert stored[day]["runId"] == run_page.rsplit("/", 1)[-1]
    assert stored[day]["instances"] == 50  # 25 demo instances in each of the two worker projects


def test_backfill_seven_days_some_without_data(platform: DevPlatform, page: Page, screenshots: Path) -> None:
    """Days 10..4 ago: the demo's uptime series cover the last seven days only, so 10..7 have none."""
    first, last = days_ago(10), days_ago(4)
    ui.open_materialize_dialog(page, platform.url, "fxci/worker_metrics_v1")
    ui.select_partitions(page, f"[{first}...{last}]")
    expect(page.get_by_role("dialog").get_by_text("7 partitions")).to_be_visible()
    page.screenshot(path=screenshots / "05_backfill_dialog.png", animations="disabled")
    backfill_page = ui.launch(page, "Launch backfill")
    assert backfill_page.startswith("/runs/b/")
    expect(page.get_by_text("100% completed").first).to_be_visible(timeout=ui.RUN_TIMEOUT_MS)

    backfill_id = backfill_page.rsplit("/", 1)[-1]
    # The daemon closes the backfill on its next pass after the run.
    status = platform.wait_for(
        lambda: (s := queries.backfill_status(platform, backfill_id)) != "REQUESTED" and s, 120, "the backfill to close"
    )
    assert status == "COMPLETED_SUCCESS"
    page.reload()
    expect(page.get_by_text("100% completed").first).to_be_visible()
    page.screenshot(path=screenshots / "06_backfill_completed.png", animations="disabled")
    days = [days_ago(n) for n in range(10, 3, -1)]
    stored = queries.materializations(platform, WORKER_METRICS, days)
    assert sorted(stored) == days
    assert len({m["runId"] for m in stored.values()}) == 1  # single-run backfill
    assert [stored[d]["instances_by_day"][d] for d in days] == [0, 0, 0, 0, 50, 50, 50]
    assert stored[days[0]]["days_without_series"] == days[:4]


def test_a_sensor_turned_on_runs_a_new_key(platform: DevPlatform, page: Page, screenshots: Path) -> None:
    page.goto(f"{platform.url}/locations/ci_assets/sensors/{SENSOR}")
    toggle = page.get_by_role("checkbox").first
    expect(toggle).not_to_be_checked()
    ui.switch(toggle)
    expect(toggle).to_be_checked()
    # The first tick takes in the demo's files (a run per watched bucket for today), then all is quiet.
    platform.wait_for(lambda: queries.sensor_ticks(platform, SENSOR), 120, "the sensor's first tick")
    platform.wait_idle(timeout=240)
    page.screenshot(path=screenshots / "07_sensor_on.png", animations="disabled")

    today = days_ago(0)
    key, body = bucket_file("active-data-test-result", random.Random(7), 1_700_000, 170_000_001, 1, 25)
    dropped_at = dt.datetime.now(dt.UTC).timestamp()
    LocalObjectStore(platform.home / "objects", fsync=False).put("active-data-test-result", key, body)

    def run_for_the_new_key() -> str | None:
        for run in platform.runs(tags=[{"key": "dagster/sensor_name", "value": SENSOR}]):
            if run["creationTime"] > dropped_at:
                return run["runId"]
        return None

    run_id = platform.wait_for(run_for_the_new_key, 120, "a run for the new key")
    page.reload()
    expect(page.get_by_text("1 run requested").first).to_be_visible(timeout=60_000)
    page.screenshot(path=screenshots / "08_sensor_tick_requested_run.png", animations="disabled")
    page.goto(f"{platform.url}/runs/{run_id}")
    ui.wait_for_run_success(page)
    expect(page.get_by_text(f"partition: {today}").first).to_be_visible()
    page.screenshot(path=screenshots / "09_sensor_run_success.png", animations="disabled")

    lake = platform.home / "objects/ci-assets-lake/lake/activedata/test_result" / f"arrival_day={today}"
    ids = set(pl.read_parquet(lake / "data.parquet")["_id"].to_list())
    assert {f"{key.removesuffix('.json.gz')}.{n}" for n in range(25)} <= ids


def test_a_sensor_whose_bucket_disappears(platform: DevPlatform, page: Page, screenshots: Path) -> None:
    """The tick fails with the bucket's name in the UI; the daemon keeps running and recovers."""
    gone = WATCHED_BUCKETS[1]
    page.goto(f"{platform.url}/locations/ci_assets/sensors/{SENSOR}")
    toggle = page.get_by_role("checkbox").first
    if not toggle.is_checked():
        ui.switch(toggle)
    bucket = platform.home / "objects" / gone
    moved = bucket.with_name(f"{gone}.away")
    removed_at = dt.datetime.now(dt.UTC).timestamp()
    bucket.rename(moved)

    def failed_tick() -> dict | None:
        ticks = queries.sensor_ticks(platform, SENSOR)
        return next((t for t in ticks if t["timestamp"] > removed_at and t["status"] == "FAILURE"), None)

    tick = platform.wait_for(failed_tick, 120, "a failed tick")
    assert gone in tick["error"]["message"]
    page.reload()
    failed_row = page.get_by_role("row").filter(has_text="Failure").first
    expect(failed_row).to_be_visible()
    failed_row.get_by_text("View", exact=True).first.click()  # the tick's error
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"bucket '{gone}' does not exist", exact=False).first).to_be_visible()
    page.screenshot(path=screenshots / "10_sensor_bucket_gone.png", animations="disabled")
    page.keyboard.press("Escape")

    assert all(queries.daemons(platform).values()), queries.daemons(platform)
    shutil.move(moved, bucket)
    failed_at = tick["timestamp"]
    platform.wait_for(
        lambda: any(
            t["timestamp"] > failed_at and t["status"] in ("SUCCESS", "SKIPPED")
            for t in queries.sensor_ticks(platform, SENSOR)
        ),
        120,
        "a good tick after the bucket came back",
    )
    assert all(queries.daemons(platform).values())
    page.reload()
    latest = page.get_by_role("row").filter(has_text="Latest tick")
    expect(latest).to_contain_text("runs requested")
    expect(latest).not_to_contain_text("Failure")
    expect(page.get_by_role("row").filter(has_text="View logs").first).to_be_visible()  # the ticks' table
    page.screenshot(path=screenshots / "11_sensor_recovered.png", animations="disabled")
