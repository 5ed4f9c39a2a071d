"""Debian's Chromium driven by Playwright: no browser download, the flags this closed network needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Playwright

REPO = Path(__file__).resolve().parents[2]
# Where each step's screenshot goes (the README points here); `make test` leaves them in build/.
SCREENSHOTS = Path(os.environ.get("CI_ASSETS_SCREENSHOTS") or REPO / "build" / "screenshots")

# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# machine's network refuses; --no-sandbox because the tests may run as root.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("CI_ASSETS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise AssertionError("Chromium is not installed: `make browser` installs Debian's chromium package")
    return found


def launch(playwright: Playwright) -> Browser:
    """Headless, with a fresh profile of its own (Playwright makes a new user data dir per launch)."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=FLAGS)
