"""The fxci tables run by themselves: the drain every 15 minutes into today, the workers' tables every
morning for yesterday, all tagged with their system, and their freshness checked."""

import datetime as dt

import dagster as dg

from ci_assets.definitions import build_definitions

defs = build_definitions()

AT = dt.datetime(2026, 3, 1, 7, 0, tzinfo=dt.UTC)


def _tick(name: str) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(scheduled_execution_time=AT, repository_def=defs.get_repository_def())
    return defs.resolve_schedule_def(name).evaluate_tick(context).run_requests


def test_the_drain_goes_into_today_and_the_workers_tables_into_yesterday() -> None:
    (drain,) = _tick("fxci_pulse_schedule")
    (workers,) = _tick("fxci_workers_daily_schedule")
    assert (drain.partition_key, workers.partition_key) == ("2026-03-01", "2026-02-28")
    assert drain.tags["system"] == workers.tags["system"] == "fxci"


def test_every_fxci_table_has_a_freshness_policy() -> None:
    graph = defs.resolve_asset_graph()
    windows = {
        table: graph.get(dg.AssetKey(["fxci", table])).freshness_policy.fail_window.to_timedelta()
        for table in ("tasks_v2", "task_runs_v1", "worker_metrics_v1", "worker_costs_v1")
    }
    hour, day = dt.timedelta(hours=1), dt.timedelta(hours=30)
    assert windows == {"tasks_v2": hour, "task_runs_v1": hour, "worker_metrics_v1": day, "worker_costs_v1": day}
