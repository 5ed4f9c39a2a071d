"""Realistic Taskcluster pulse messages (demo, tests, benchmarks), shaped like pulse.md's examples."""

import datetime as dt
import random
import string
from typing import Any

KINDS = ["build", "test", "signing", "lint", "source-test"]
PROJECTS = ["mozilla-central", "autoland", "try", "mozilla-beta", "mozilla-release"]
QUEUES = ["gecko-t/t-linux-large", "gecko-t/win11-64-2009", "gecko-3/b-linux", "gecko-1/b-win2022"]
WORKER_GROUPS = ["us-central1-b", "us-west1-a", "westus2", "eastus"]


def task_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(22))


def message(rng: random.Random, exchange: str, when: dt.datetime) -> dict[str, Any]:
    """One status message; about one in ten is a retry (runId 1), a few are unscheduled or have no run."""
    roll = rng.random()
    state = {"task-completed": "completed", "task-failed": "failed", "task-exception": "exception"}[exchange]
    status: dict[str, Any] = {
        "taskId": task_id(rng),
        "taskQueueId": rng.choice(QUEUES),
        "schedulerId": f"gecko-level-{rng.choice([1, 3])}",
        "taskGroupId": task_id(rng),
        "state": state,
        "runs": [],
    }
    if roll < 0.03:
        status["state"] = "unscheduled"
        return {"version": 1, "status": status}
    if roll < 0.05:
        return {"version": 1, "status": status}  # the deadline passed before any run
    runs = 2 if roll > 0.9 else 1
    start = when
    for run_id in range(runs):
        started = start + dt.timedelta(seconds=rng.randint(1, 120))
        resolved = started + dt.timedelta(seconds=rng.randint(30, 3600))
        status["runs"].append(
            {
                "runId": run_id,
                "state": state if run_id == runs - 1 else "exception",
                "reasonCreated": "scheduled" if run_id == 0 else "retry",
                "reasonResolved": state if run_id == runs - 1 else "worker-shutdown",
                "workerGroup": rng.choice(WORKER_GROUPS),
                "workerId": str(rng.getrandbits(60)),
                "scheduled": _iso(start),
                "started": _iso(started),
                "resolved": _iso(resolved),
            }
        )
        start = resolved
    kind = rng.choice(KINDS)
    tags = {
        "createdForUser": "someone@example.com",
        "kind": kind,
        "label": f"{kind}-linux64/opt-{rng.randint(1, 20)}",
        "os": rng.choice(["linux", "windows", "macosx"]),
        "owned-by": "someone@example.com",
        "project": rng.choice(PROJECTS),
        "trust-domain": "gecko",
        "worker-implementation": rng.choice(["generic-worker", "docker-worker"]),
    }
    return {"version": 1, "status": status, "runId": runs - 1, "task": {"tags": tags}}


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
