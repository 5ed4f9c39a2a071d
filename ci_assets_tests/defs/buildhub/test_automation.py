"""Buildhub's warehouse table is rebuilt once a day and has a freshness policy."""

import datetime as dt

import dagster as dg

from ci_assets.definitions import build_definitions

defs = build_definitions()


def test_buildhub_builds_table_is_rebuilt_daily_and_has_a_freshness_policy() -> None:
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["buildhub", "builds_table"])
    assert graph.get(key).automation_condition is not None
    assert graph.get(key).freshness_policy.fail_window.to_timedelta() == dt.timedelta(hours=30)
