"""The platform started once for the browser tests, and a fresh browser page per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ci_assets_tests.e2e import browser
from ci_assets_tests.e2e.platform import DevPlatform

# The UI loads lazily and the machine has two cores: page-level expectations wait as long as clicks do.
expect.set_options(timeout=30_000)

WATCHED_BUCKETS = ("active-data-test-result", "active-data-perf")

E2E_ENV = {
    # Sensors tick every few seconds instead of every minute, so a new key is seen at once.
    "CI_ASSETS_LISTING_INTERVAL_SECONDS": "3",
    # Two of the ActiveData buckets: the first tick's runs stay few on two cores.
    "CI_ASSETS_ACTIVEDATA_BUCKETS": ",".join(WATCHED_BUCKETS),
}


DEMO_TAG = {"key": "ci_assets/demo", "value": "true"}
# ActiveData's buckets and its two identity tables, the registry, fxci's drain and worker tables, both
# aggregate types' days and tables, Buildhub's table and newest build (after its sensor's ingest).
DEMO_RUNS = 12


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPlatform]:
    dev = DevPlatform(tmp_path_factory.mktemp("platform") / "home", E2E_ENV)
    dev.start()
    try:
        # `ci-assets dev` launches the demo's first runs once the code location is loaded; they finish first.
        dev.wait_for(lambda: len(dev.runs(tags=[DEMO_TAG])) >= DEMO_RUNS, 300, "the demo runs to be launched")
        dev.wait_idle(timeout=420)
        yield dev
    finally:
        dev.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = browser.launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    browser.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return browser.SCREENSHOTS
