"""The aggregates run by themselves: a morning schedule, tables that follow their Parquet, freshness checks;
and the instance keeps a backfill from taking every run slot."""

import datetime as dt
import shutil
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pytest

from ci_assets.definitions import build_definitions
from ci_assets.defs.aggregates.tables import build_id_aggregates, submission_date_aggregates
from ci_assets.instance import config_file

defs = build_definitions()


def test_the_morning_schedule_asks_for_yesterday_of_both_types_tagged_with_the_system() -> None:
    schedule = defs.resolve_schedule_def("aggregates_daily_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC), repository_def=defs.get_repository_def()
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-02-28|build_id", "2026-02-28|submission_date"]
    assert all(r.tags["system"] == "aggregates" for r in requests)


def test_tables_follow_their_parquet_and_have_a_freshness_policy() -> None:
    graph = defs.resolve_asset_graph()
    for table in (build_id_aggregates, submission_date_aggregates):
        assert graph.get(table.key).automation_condition is not None
        assert graph.get(table.key).freshness_policy.fail_window.to_timedelta() == dt.timedelta(hours=30)


@pytest.mark.parametrize(("environment", "backfill", "per_system"), [("local", 2, 2), ("cloud", 8, 6)])
def test_a_backfill_and_a_system_each_get_a_bounded_share_of_the_run_slots(
    environment: str,
    backfill: int,
    per_system: int,
    postgres_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = urlparse(postgres_dsn)  # the cloud file's instance storage is PostgreSQL: the machine's
    for name, value in (("HOST", url.hostname), ("PORT", url.port), ("USER", url.username), ("DB", url.path[1:])):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", str(value))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "trust-auth-ignores-it")
    shutil.copyfile(config_file(environment), tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.run_coordinator.get_run_queue_config()
    limits = {(limit["key"], str(limit.get("value"))): limit["limit"] for limit in config.tag_concurrency_limits}
    assert limits[("dagster/backfill", "None")] == backfill
    assert limits[("system", "{'applyLimitPerUniqueValue': True}")] == per_system
    assert config.max_concurrent_runs > backfill + per_system - 1
