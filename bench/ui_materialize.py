"""UI latency: from clicking "Materialize…" to the run's Success on its page, median of 10.

The platform is `ci-assets dev` on the local default with demo data (as `make dev` starts it),
the browser Debian's headless Chromium. Each round materializes one day of
fxci/worker_metrics_v1 (50 uptime series) through the launch dialog, follows the toast to the
run's page and stops the clock when the page shows Success. The run's own timestamps split the
time into: the dialog (click to the run's creation), the start (creation to RUN_START: the
daemon dequeuing it, then the run's process starting Python, Dagster and the code location),
the run (RUN_START to RUN_SUCCESS: the step and its checks) and the page noticing the end; the
start is cut again at the run's own events (queue, process, set-up: see _START_MARKS).

    .venv/bin/python bench/ui_materialize.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci_assets_tests.e2e import browser, ui
from ci_assets_tests.e2e.conftest import E2E_ENV
from ci_assets_tests.e2e.platform import DevPlatform

_RUN_TIMES = """
query Run($id: ID!) { runOrError(runId: $id) { ... on Run { creationTime startTime endTime status } } }
"""
_RUN_EVENTS = """
query Events($id: ID!) {
  logsForRun(runId: $id) { ... on EventConnection { events { __typename ... on MessageEvent { timestamp message } } } }
}
"""
# The start, cut at the run's own events: the queue (until the daemon dequeues and launches it),
# the process (the run's process starting until its first event, "Started process for run") and
# its set-up (loading the job from the code location) until RUN_START.
_START_MARKS = ("RunStartingEvent", "EngineEvent", "RunStartEvent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as tmp:
        platform = DevPlatform(Path(tmp) / "home", E2E_ENV)
        started = time.monotonic()
        platform.start()
        try:
            platform.wait_idle(timeout=300)
            print(f"platform up (demo seeded, UI answering, queue idle) in {time.monotonic() - started:.1f}s")
            rounds = measure(platform, args.rounds)
        finally:
            platform.stop()
    report(rounds)


def measure(platform: DevPlatform, rounds: int) -> list[dict[str, float]]:
    today = dt.datetime.now(dt.UTC).date()
    results = []
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        page = chromium.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        for n in range(rounds + 1):  # round 0 warms the webserver's and the browser's caches
            day = (today - dt.timedelta(days=n % 7)).isoformat()
            page.goto(f"{platform.url}/assets/fxci/worker_metrics_v1?view=partitions")
            button = page.get_by_role("button", name="Materialize…")
            button.wait_for()
            clicked_wall, clicked = time.time(), time.monotonic()
            button.click()
            ui.select_partitions(page, day)
            run_page = ui.launch(page, "Launch 1 run")
            ui.wait_for_run_success(page)
            seen = time.monotonic()
            run = platform.graphql(_RUN_TIMES, {"id": run_page.rsplit("/", 1)[-1]})["runOrError"]
            timing = {
                "total": seen - clicked,
                "dialog": run["creationTime"] - clicked_wall,
                "start": run["startTime"] - run["creationTime"],
                "run": run["endTime"] - run["startTime"],
                "page": seen - clicked - (run["endTime"] - clicked_wall),
            }
            timing |= start_parts(platform, run_page.rsplit("/", 1)[-1], run["creationTime"])
            if n:
                results.append(timing)
                print(f"round {n:2d}: " + "  ".join(f"{k} {v:5.2f}s" for k, v in timing.items()), flush=True)
        chromium.close()
    return results


def start_parts(platform: DevPlatform, run_id: str, created: float) -> dict[str, float]:
    events = platform.graphql(_RUN_EVENTS, {"id": run_id})["logsForRun"]["events"]
    first: dict[str, float] = {}
    for event in events:
        first.setdefault(event["__typename"], int(event["timestamp"]) / 1000)
    if any(m not in first for m in _START_MARKS):
        raise SystemExit(f"run {run_id} lacks some of {_START_MARKS}: its events are {sorted(first)}")
    marks = [created, *(first[m] for m in _START_MARKS)]
    names = ("queue", "process", "set-up")
    return {name: end - begin for name, begin, end in zip(names, marks[:-1], marks[1:], strict=True)}


def report(rounds: list[dict[str, float]]) -> None:
    print(f"\nclick 'Materialize…' -> Success on the run's page, {len(rounds)} rounds (medians):")
    for part in ("total", "dialog", "start", "queue", "process", "set-up", "run", "page"):
        values = [r[part] for r in rounds]
        print(f"  {part:7s} median {statistics.median(values):6.2f}s  (min {min(values):.2f}s, max {max(values):.2f}s)")


if __name__ == "__main__":
    main()
