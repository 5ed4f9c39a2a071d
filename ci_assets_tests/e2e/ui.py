"""The clicks a data engineer makes in the Dagster UI, shared by the browser tests and the UI bench."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

RUN_TIMEOUT_MS = 240_000


def open_materialize_dialog(page: Page, base_url: str, asset_path: str) -> None:
    """The asset's partitions view, then "Materialize…": the launch dialog with its partition selection."""
    page.goto(f"{base_url}/assets/{asset_path}?view=partitions")
    page.get_by_role("button", name="Materialize…").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def select_partitions(page: Page, selection: str) -> None:
    """Types a partition key or a `[first...last]` range into the dialog's selection box."""
    box = page.get_by_role("dialog").get_by_role("textbox").first
    box.fill(selection)
    box.press("Enter")


def launch(page: Page, button: str) -> str:
    """Clicks the dialog's launch button and follows the toast's "View" link; returns the page it opened."""
    page.get_by_role("dialog").get_by_role("button", name=button).click()
    view = page.get_by_role("link", name="View", exact=True).last
    expect(view).to_be_visible()
    href = view.get_attribute("href") or ""
    view.click()
    page.wait_for_url(re.compile(re.escape(href)))
    return href


def wait_for_run_success(page: Page) -> None:
    """On a run's page: its status tag reads Success (a failure fails at once, with the page's words)."""
    success = page.get_by_text("Success", exact=True).first
    failure = page.get_by_text("Failure", exact=True).first
    expect(success.or_(failure)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert not failure.is_visible(), f"the run failed: {page.url}"


def switch(toggle: Locator) -> None:
    """The UI's on/off switches hide their checkbox under a styled label: the label takes the click."""
    toggle.locator("xpath=..").click()
