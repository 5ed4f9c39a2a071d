"""One table of each system opened in the Dagster UI: its columns (from its contract's schema file),
its kinds (where the local default keeps it), its contract as its type and its checks are shown
where a data engineer looks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ci_assets_tests.e2e.platform import DevPlatform

# system -> (asset, columns, kinds, checks, its type's name)
TABLES = {
    "fxci": ("fxci/worker_metrics_v1", ["instance_id", "uptime"], ["duckdb", "gcp"],
             ["primary_key_is_unique", "reconciles"], "worker_metrics_v1_contract"),
    "aggregates": ("aggregates/parquet", ["ingest_date", "aggregate"], ["parquet", "polars"],
                   ["rows_keep_contract", "reconciles"], "aggregates_contract"),
    "buildhub": ("buildhub/builds_table", ["download", "target"], ["duckdb", "postgres"], ["reconciles"],
                 "buildhub_builds_contract"),
    "activedata": ("activedata/test_result", ["_id", "arrival_day"], ["filesystem", "parquet"],
                   ["id_starts_with_file_key", "id_unique_in_partition", "reconciles"], "activedata_records_contract"),
    "sources": ("sources/sources_json", ["metadata_prefix", "bucket"], ["filesystem", "json"],
                ["entries_keep_contract", "every_bucket_exists"], None),
}  # fmt: skip


@pytest.mark.parametrize("system", sorted(TABLES))
def test_a_table_shows_its_columns_kinds_type_and_checks(
    system: str, platform: DevPlatform, page: Page, screenshots: Path
) -> None:
    asset, columns, kinds, checks, type_name = TABLES[system]
    page.goto(f"{platform.url}/assets/{asset}")
    main = page.locator("main").first if page.locator("main").count() else page
    for column in columns:
        expect(main.get_by_text(column, exact=True).first).to_be_visible()
    for kind in kinds:  # shown by their display names (Parquet, BigQuery, S3)
        expect(main.get_by_text(re.compile(f"^{kind}$", re.IGNORECASE)).first).to_be_visible()
    if type_name is not None:
        page.get_by_role("button", name=re.compile("Compute details")).click()
        page.get_by_role("button", name="View type details").click()  # the contract, as the asset's type
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text(type_name).first).to_be_visible()
        expect(dialog.get_by_text("pandera, through dagster-pandera", exact=False).first).to_be_visible()
        page.screenshot(path=screenshots / f"20_contract_{system}_type.png", animations="disabled")
        page.keyboard.press("Escape")
    page.screenshot(path=screenshots / f"20_contract_{system}_overview.png", animations="disabled", full_page=True)
    page.goto(f"{platform.url}/assets/{asset}?view=checks")
    for check in checks:
        expect(page.get_by_text(check, exact=True).first).to_be_visible()
    page.screenshot(path=screenshots / f"21_contract_{system}_checks.png", animations="disabled")
