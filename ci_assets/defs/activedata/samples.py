"""Realistic ActiveData files: records shaped like each bucket's, keys following the convention."""

from __future__ import annotations

import gzip
import json
import random
from typing import Any

from ci_assets.defs.activedata.keys import AGGREGATION, JOIN, build_key

PLATFORMS = ("linux64", "windows10-64", "macosx1015-64", "android-em-7-0-x86_64")
SUITES = ("mochitest-browser-chrome", "xpcshell", "web-platform-tests", "reftest", "talos-tp5o")
TESTS = ("test_session_restore.js", "browser_tabs.js", "test_cache.js", "fetch-api.html", "layout/flex-001.html")
RESULTS = ("success", "testfailed", "busted", "retry")


def _record(bucket: str, rng: random.Random, record_id: str, batch: int, task: int, line: int) -> dict[str, Any]:
    etl = {
        "id": line,
        "source": {"id": task, "source": {"id": batch, "type": "join"}},
        "timestamp": 1_700_000_000 + batch,
    }
    base: dict[str, Any] = {"_id": record_id, "etl": etl, "task": {"id": f"T{batch:x}{task:04d}"}}
    platform, suite = rng.choice(PLATFORMS), rng.choice(SUITES)
    if "test-result" in bucket or "fx-test" in bucket:
        base["result"] = {"test": rng.choice(TESTS), "status": rng.choice(["PASS", "PASS", "PASS", "FAIL"]),
                          "duration": round(rng.uniform(0.01, 30), 3)}  # fmt: skip
        base["run"] = {"suite": suite, "chunk": rng.randint(1, 20)}
    elif "perf" in bucket:
        base["result"] = {"framework": "talos", "suite": suite, "value": round(rng.uniform(100, 900), 2)}
    elif "codecoverage" in bucket:
        base["source"] = {"file": {"name": f"dom/base/File{rng.randint(1, 400)}.cpp", "covered": rng.randint(0, 300)}}
    elif "firefox-files" in bucket:
        base["file"] = {
            "name": f"browser/components/{rng.choice(['tabs', 'urlbar', 'search'])}/{rng.randint(1, 99)}.js"
        }
    else:  # jobs, task-cluster-normalized
        base["build"] = {"platform": platform, "type": rng.choice(["opt", "debug", "asan"])}
        base["run"] = {"suite": suite, "state": rng.choice(["completed", "failed", "exception"])}
    return base


def bucket_file(
    bucket: str, rng: random.Random, batch: int, message: int, task: int, records: int
) -> tuple[str, bytes]:
    """One file: key `tc.<batch>:<message>.<task>.json.gz`, records `<key>.<n>`."""
    key = build_key(["tc", batch, message, task], [JOIN, AGGREGATION, JOIN])
    lines = [_record(bucket, rng, key.record_id(n), batch, task, n) for n in range(records)]
    return str(key), gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode())


def treeherder_snapshots(rng: random.Random, batch: int, jobs: list[int], taken: int) -> tuple[str, bytes]:
    """A snapshot of evolving Treeherder jobs: same `job.id`s, later states, newer `last_modified`."""
    key = build_key(["th", batch], [JOIN])
    states = ("pending", "running", "completed")
    lines = []
    for n, job_id in enumerate(jobs):
        state = states[min(taken, len(states) - 1)]
        lines.append({
            "_id": key.record_id(n),
            "job": {"id": job_id, "state": state, "result": rng.choice(RESULTS) if state == "completed" else "unknown",
                    "last_modified": 1_700_000_000 + 600 * taken + job_id % 600,
                    "platform": rng.choice(PLATFORMS)},
            "etl": {"timestamp": 1_700_000_000 + 600 * taken},
        })  # fmt: skip
    return str(key), gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode())


def bugzilla_file(batch: int, snapshots: list[tuple[int, int, str]]) -> tuple[str, bytes]:
    """Bug snapshots `(bug_id, modified_ts, bug_status)` in one file `bz.<batch>.json.gz`."""
    key = build_key(["bz", batch], [JOIN])
    lines = [
        {"_id": key.record_id(n), "bug_id": bug, "modified_ts": ts, "bug_status": status, "product": "Firefox",
         "priority": "P3", "etl": {"timestamp": ts}}
        for n, (bug, ts, status) in enumerate(snapshots)
    ]  # fmt: skip
    return str(key), gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode())
