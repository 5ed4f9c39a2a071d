"""Soak: the running platform under a steady stream of work, bounded in time, loopback only.

`ci-assets dev` (webserver, daemon, the demo) on the embedded local default, its listing sensors
on and ticking every 15 s. For `--minutes` (10): a new ActiveData file lands in a watched bucket
and new buildhub.json keys in Buildhub's bucket every few seconds (the sensors find them and
launch their days' runs), pulse messages keep arriving on the local broker (a drain is launched
every minute, as the 15-minute schedule would), and 16 clients keep asking Buildhub's search API.
Then the producers stop, the last keys' runs and a last drain finish, and it checks:

- every ActiveData record, build and pulse message the soak sent is stored exactly once;
- no run is left QUEUED or STARTING; runs launched / succeeded / failed;
- the webserver's, daemon's and code server's RSS after warm-up against the end;
- the search API's p50/p95 over the whole soak, and its errors (none allowed).

    PYTHONPATH=. .venv/bin/python bench/soak.py [--minutes 10]

Exits non-zero when a promise does not hold.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import polars as pl
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci_assets.defs.activedata.samples import bucket_file
from ci_assets.defs.buildhub.samples import encode, make_document
from ci_assets.defs.fxci.demo import publish
from ci_assets.lib.launch import DemoRun, launch
from ci_assets.lib.pulse import PulseResource
from ci_assets.lib.storage.local_store import LocalObjectStore
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.defs.fxci.conftest import example
from ci_assets_tests.e2e.platform import RUNS_IN_FLIGHT, DevPlatform

ACTIVEDATA_BUCKET = "active-data-perf"
BUILDHUB_BUCKET = "net-mozaws-prod-delivery-firefox"
BUILDHUB_PREFIX = "soak/"
SOAK_BATCH = 9_000_000_000  # ActiveData keys `tc.9000000xxx:…` sort after the demo's: each is new to the cursor
ENV = {
    "CI_ASSETS_LISTING_INTERVAL_SECONDS": "15",
    "CI_ASSETS_ACTIVEDATA_BUCKETS": ACTIVEDATA_BUCKET,
    "CI_ASSETS_BUILDHUB_PREFIXES": BUILDHUB_PREFIX,
}
SENSORS = ["activedata_new_keys", "buildhub_new_keys"]
SEARCH_BODIES = [
    {"size": 10, "query": {"term": {"target.channel": "release"}}, "sort": [{"download.date": "desc"}]},
    {"size": 0, "aggs": {"platforms": {"terms": {"field": "target.platform", "size": 20}}}},
    {"size": 10, "query": {"prefix": {"target.version": "9"}}},
]
_START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) { __typename ... on PythonError { message } }
}
"""


@dataclasses.dataclass
class Sent:
    activedata_ids: list[str] = dataclasses.field(default_factory=list)
    buildhub_keys: list[str] = dataclasses.field(default_factory=list)
    task_ids: list[str] = dataclasses.field(default_factory=list)


class Producers:
    """New inputs every `period` seconds until stopped."""

    def __init__(self, home: Path, period: float = 5.0) -> None:
        self.store = LocalObjectStore(home / "objects")
        self.pulse = PulseResource(url="filesystem://", user="ci-assets", folder=str(home / "pulse"))
        self.sent, self.period, self.rng = Sent(), period, random.Random(7)
        self.stop = threading.Event()
        self.round = 0

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self.round += 1
            self.activedata_file(records=200)
            self.buildhub_keys(4)
            self.pulse_messages(25)

    def activedata_file(self, records: int) -> None:
        key, data = bucket_file(ACTIVEDATA_BUCKET, self.rng, SOAK_BATCH + self.round, 1, 1, records)
        self.store.put(ACTIVEDATA_BUCKET, key, data)
        self.sent.activedata_ids += [f"{key.removesuffix('.json.gz')}.{n}" for n in range(records)]

    def buildhub_keys(self, count: int) -> None:
        for i in range(count):
            document = make_document(self.rng)
            key = f"{BUILDHUB_PREFIX}{self.round:06d}-{i}/buildhub.json"
            self.store.put(BUILDHUB_BUCKET, key, encode(document))
            self.sent.buildhub_keys.append(key)

    def pulse_messages(self, count: int) -> None:
        template = example("task-completed-run0")
        bodies = []
        for i in range(count):
            message = copy.deepcopy(template)
            message["status"]["taskId"] = task_id = f"soak{self.round:09d}{i:09d}"
            bodies.append(json.dumps(message).encode())
            self.sent.task_ids.append(task_id)
        with self.pulse.connection() as conn:
            publish(conn, self.pulse.user, "task-completed", bodies)


class SearchLoad:
    """`clients` threads asking /api/search back to back; latencies and errors."""

    def __init__(self, url: str, clients: int = 16) -> None:
        self.url, self.clients = url, clients
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def client(self, n: int) -> None:
        i = n
        while not self.stop.is_set():
            body = json.dumps(SEARCH_BODIES[i % len(SEARCH_BODIES)]).encode()
            i += 1
            request = urllib.request.Request(
                f"{self.url}/api/search", data=body, headers={"Content-Type": "application/json"}
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                    ok = response.status == 200
            except Exception as e:  # noqa: BLE001 - every failure is counted and named
                ok, error = False, f"{type(e).__name__}: {e}"
            else:
                error = "not 200"
            with self._lock:
                if ok:
                    self.latencies.append(time.perf_counter() - started)
                else:
                    self.errors.append(error)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        return threads


def platform_rss(home: Path) -> dict[str, float]:
    """MB of the webserver, the daemon and the code servers (processes whose environment is this home's)."""
    found: dict[str, float] = {"webserver": 0.0, "daemon": 0.0, "code server": 0.0}
    for process in psutil.process_iter(["cmdline", "memory_info"]):
        command = " ".join(process.info["cmdline"] or [])
        role = (
            "webserver"
            if "dagster-webserver" in command or "dagster_webserver" in command
            else "daemon"
            if "dagster-daemon" in command or "dagster._daemon" in command
            else "code server"
            if "api grpc" in command or "code-server" in command
            else None
        )
        if role is None:
            continue
        try:
            if process.environ().get("CI_ASSETS_HOME") != str(home):
                continue
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        found[role] += process.info["memory_info"].rss / 1e6
    return found


def stored_activedata(home: Path) -> list[str]:
    files = list((home / "objects").rglob("lake/activedata/perf/arrival_day=*/data.parquet"))
    if not files:
        return []
    ids = pl.read_parquet(files).filter(pl.col("key").str.starts_with(f"tc.{str(SOAK_BATCH)[:4]}"))["_id"]
    return ids.to_list()


def stored_builds(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT s3_object_key FROM buildhub.main_build WHERE s3_object_key LIKE %s", (BUILDHUB_PREFIX + "%",)
        )
        return [r[0] for r in rows]


def stored_tasks(home: Path) -> tuple[list[str], list[str]]:
    def ids(table: str) -> list[str]:
        files = list(home.rglob(f"{table}/submission_date=*/data.parquet"))
        if not files:
            return []
        frame = pl.read_parquet(files, columns=["task_id"])
        return frame.filter(pl.col("task_id").str.starts_with("soak"))["task_id"].to_list()

    return ids("tasks_v2"), ids("task_runs_v1")


def once(sent: list[str], stored: list[str]) -> dict[str, Any]:
    missing, extra = set(sent) - set(stored), set(stored) - set(sent)
    twice = len(stored) - len(set(stored))
    return {"sent": len(sent), "stored": len(stored), "missing": len(missing), "twice": twice, "extra": len(extra)}


def drain_run(today: str) -> DemoRun:
    return DemoRun("soak pulse drain", "fxci", job="fxci_pulse", partition=today)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the first RSS reading")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ci-assets-soak-")) / "home"
    dev = DevPlatform(home, ENV)
    print(f"starting ci-assets dev in {home}", flush=True)
    dev.start()
    try:
        report = soak(dev, home, args.minutes * 60, args.warmup)
    finally:
        dev.stop()
    print(json.dumps(report, indent=2))
    problems = report["problems"]
    print("\n" + ("every promise held" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems)))
    sys.exit(1 if problems else 0)


def soak(dev: DevPlatform, home: Path, seconds: float, warmup: float) -> dict[str, Any]:
    dev.wait_for(lambda: dev.runs(), 300, "the demo runs to be launched")
    dev.wait_idle(timeout=600)
    for name in SENSORS:
        selector = {"repositoryLocationName": "ci_assets", "repositoryName": "__repository__", "sensorName": name}
        answer = dev.graphql(_START_SENSOR, {"selector": selector})["startSensor"]
        assert answer["__typename"] != "PythonError", answer
    before = {r["runId"] for r in dev.runs(limit=5000)}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    producers, search = Producers(home), SearchLoad(dev.search_url)
    producer_thread = threading.Thread(target=producers.run, daemon=True)
    started = time.monotonic()
    producer_thread.start()
    clients = search.start()
    rss_warm: dict[str, float] | None = None
    rss_peak: dict[str, float] = {}
    next_drain = started + 60
    print(f"soaking for {seconds / 60:.0f} min", flush=True)
    while time.monotonic() - started < seconds:
        time.sleep(5)
        dev._check_alive()
        now = time.monotonic()
        if now >= next_drain:
            launch(dev.url, drain_run(today))
            next_drain = now + 60
        rss = platform_rss(home)
        rss_peak = {k: max(v, rss_peak.get(k, 0.0)) for k, v in rss.items()}
        if rss_warm is None and now - started >= warmup:
            rss_warm = rss
            print(f"RSS after warm-up: {rss}", flush=True)
    rss_end = platform_rss(home)
    producers.stop.set()
    producer_thread.join()
    search_latencies_during = list(search.latencies)
    print("producers stopped; waiting for the last runs", flush=True)
    launch(dev.url, drain_run(today))
    sent = producers.sent
    dsn = PostgresResource(embedded_dir=str(home / "postgres")).uri()
    deadline = time.monotonic() + 600

    def settled() -> bool:
        return (
            not dev.runs(statuses=RUNS_IN_FLIGHT)
            and len(stored_builds(dsn)) >= len(sent.buildhub_keys)
            and len(stored_activedata(home)) >= len(sent.activedata_ids)
        )

    while not settled() and time.monotonic() < deadline:
        time.sleep(5)
    dev.wait_idle(timeout=max(10.0, deadline - time.monotonic()))
    launch(dev.url, drain_run(today))  # whatever arrived while the last drain ran
    dev.wait_idle(timeout=300)
    search.stop.set()
    for thread in clients:
        thread.join(timeout=60)

    runs = [r for r in dev.runs(limit=5000) if r["runId"] not in before]
    statuses: dict[str, int] = {}
    for run in runs:
        statuses[run["status"]] = statuses.get(run["status"], 0) + 1
    tasks, task_runs = stored_tasks(home)
    latencies = sorted(search_latencies_during)
    report: dict[str, Any] = {
        "minutes": round(seconds / 60, 1),
        "activedata_records": once(sent.activedata_ids, stored_activedata(home)),
        "buildhub_keys": once(sent.buildhub_keys, stored_builds(dsn)),
        "pulse_tasks_v2": once(sent.task_ids, tasks),
        "pulse_task_runs_v1": once(sent.task_ids, task_runs),
        "runs": {"launched": len(runs), **statuses},
        "rss_mb_after_warmup": {k: round(v) for k, v in (rss_warm or {}).items()},
        "rss_mb_end": {k: round(v) for k, v in rss_end.items()},
        "rss_mb_peak": {k: round(v) for k, v in rss_peak.items()},
        "search": {
            "requests": len(latencies),
            "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1) if latencies else None,
            "errors": len(search.errors),
            "first_errors": search.errors[:5],
        },
    }
    problems = []
    for name in ("activedata_records", "buildhub_keys", "pulse_tasks_v2", "pulse_task_runs_v1"):
        counts = report[name]
        if counts["missing"] or counts["twice"] or counts["extra"]:
            problems.append(f"{name}: {counts}")
    stuck = [r["runId"] for r in runs if r["status"] in ("QUEUED", "STARTING", "NOT_STARTED")]
    if stuck:
        problems.append(f"runs stuck: {stuck}")
    if statuses.get("FAILURE"):
        problems.append(f"{statuses['FAILURE']} run(s) failed")
    if search.errors:
        problems.append(f"search errors: {len(search.errors)}")
    if rss_warm:
        for role, warm in rss_warm.items():
            if warm and rss_end[role] > warm * 1.5 + 50:
                problems.append(f"{role} RSS grew from {warm:.0f} MB to {rss_end[role]:.0f} MB")
    report["problems"] = problems
    return report


if __name__ == "__main__":
    main()
