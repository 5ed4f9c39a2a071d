"""The first hour after `make dev`: every materializable asset has a materialization, and no check is
red that the demo did not fail on purpose (the seeded invalid buildhub.json, whose check says so).

Runs before the other UI tests change anything (the platform is shared by the session).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from ci_assets.cli import SYSTEMS
from ci_assets_tests.e2e.platform import DevPlatform

SEEDED_FAILURE = ("buildhub/builds", "no_invalid_buildhub_json")
# One asset of each group, opened as a newcomer would after the lineage.
ONE_ASSET = {
    "activedata": "activedata/test_result",
    "sources": "sources/sources_json",
    "fxci": "fxci/tasks_v2",
    "buildhub": "buildhub/builds",
    "aggregates": "aggregates/parquet",
}

_ASSETS = """
{ assetNodes { assetKey { path } groupName isMaterializable
  assetMaterializations(limit: 1) { runId }
  assetChecksOrError { ... on AssetChecks { checks { name description
    executionForLatestMaterialization { status evaluation { severity } } } } } } }
"""


def red_checks(nodes: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(asset, check) -> the check, for each check whose latest execution failed at ERROR severity."""
    red = {}
    for node in nodes:
        for check in (node["assetChecksOrError"] or {}).get("checks", []):
            execution = check["executionForLatestMaterialization"] or {}
            severity = (execution.get("evaluation") or {}).get("severity")
            if execution.get("status") in ("FAILED", "EXECUTION_FAILED") and severity != "WARN":
                red["/".join(node["assetKey"]["path"]), check["name"]] = check
    return red


def test_every_asset_is_materialized_and_only_the_seeded_check_is_red(
    platform: DevPlatform, page: Page, screenshots: Path
) -> None:
    nodes = platform.graphql(_ASSETS)["assetNodes"]
    never = ["/".join(n["assetKey"]["path"]) for n in nodes if n["isMaterializable"] and not n["assetMaterializations"]]
    assert never == []
    assert {n["groupName"] for n in nodes} >= set(SYSTEMS)
    red = red_checks(nodes)
    assert list(red) == [SEEDED_FAILURE]
    assert "on purpose" in red[SEEDED_FAILURE]["description"]

    page.goto(f"{platform.url}/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)  # each group's status badges shown
    page.screenshot(path=screenshots / "30_first_hour_lineage.png", animations="disabled")
    checks = {"/".join(n["assetKey"]["path"]): [c["name"] for c in (n["assetChecksOrError"] or {}).get("checks", [])]
              for n in nodes}  # fmt: skip
    for system, asset in ONE_ASSET.items():
        page.goto(f"{platform.url}/assets/{asset}?view=checks")
        shown_red = set()
        for name in checks[asset]:  # the checks list: each with its status icon, red for a failure at ERROR
            title = page.locator(f'[title="{name}"]').first
            expect(title).to_be_attached()
            icon = title.locator("xpath=../../..").get_by_role("img").first
            if icon.get_attribute("aria-label") == "cancel":
                shown_red.add(name)
        assert shown_red == ({SEEDED_FAILURE[1]} if asset == SEEDED_FAILURE[0] else set()), asset
        page.screenshot(path=screenshots / f"31_first_hour_{system}_checks.png", animations="disabled")
