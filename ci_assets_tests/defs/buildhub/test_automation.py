"""Buildhub's warehouse table is rebuilt once a day and its freshness is checked."""

import dagster as dg

from ci_assets.definitions import build_definitions

defs = build_definitions()


def test_buildhub_builds_table_is_rebuilt_daily_and_checked_for_freshness() -> None:
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["buildhub", "builds_table"])
    assert graph.get(key).automation_condition is not None
    assert any("freshness" in k.name for k in graph.asset_check_keys if k.asset_key == key)
