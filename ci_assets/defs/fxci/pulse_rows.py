"""How one Taskcluster pulse message becomes rows of tasks_v2 and task_runs_v1 (pulse.md, rules 1-6).

Every message has exactly one outcome: rows, an unscheduled task id to record, ignored
(with the rule that says so), or quarantined (with the reason). Nothing is dropped
without one of those.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

from ci_assets.defs.fxci.schemas import known_tags

EXCHANGES = {
    "task-completed": "exchange/taskcluster-queue/v1/task-completed",
    "task-failed": "exchange/taskcluster-queue/v1/task-failed",
    "task-exception": "exchange/taskcluster-queue/v1/task-exception",
}
MAX_MESSAGE_BYTES = 1 << 20  # real status messages are a few kB


@dataclasses.dataclass(frozen=True)
class Rows:
    run: dict[str, Any]
    task: dict[str, Any] | None  # only for runId 0


@dataclasses.dataclass(frozen=True)
class Unscheduled:
    task_id: str


@dataclasses.dataclass(frozen=True)
class Ignored:
    reason: str


@dataclasses.dataclass(frozen=True)
class Quarantined:
    reason: str


Outcome = Rows | Unscheduled | Ignored | Quarantined


class _Bad(ValueError):
    pass


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalise_tag(key: str) -> str:
    """`createdForUser` -> `created_for_user`, `worker-implementation` -> `worker_implementation`."""
    return _CAMEL.sub("_", key).replace("-", "_").replace(" ", "_").lower()


def tags_record(tags: Any) -> dict[str, str | None]:
    """The 11 known tags (None where absent); other keys are dropped, as in production."""
    record: dict[str, str | None] = dict.fromkeys(known_tags())
    if tags is None:
        return record
    if not isinstance(tags, dict):
        raise _Bad(f"task.tags is not a mapping but {type(tags).__name__}")
    for key, value in tags.items():
        name = normalise_tag(str(key))
        if name not in record:
            continue
        if isinstance(value, dict | list):
            raise _Bad(f"tag {key!r} is not a string")
        record[name] = None if value is None else str(value)
    return record


def _timestamp(run: dict[str, Any], key: str, required: bool) -> dt.datetime | None:
    value = run.get(key)
    if value is None:
        if required:
            raise _Bad(f"run has no {key!r}")
        return None
    if not isinstance(value, str):
        raise _Bad(f"run {key!r} is not an ISO-8601 string: {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(f"run {key!r} does not parse as a timestamp: {value!r}") from None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _text(mapping: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    value = mapping.get(key)
    if value is None:
        if required:
            raise _Bad(f"{where} has no {key!r}")
        return None
    if not isinstance(value, str) or (required and not value):
        raise _Bad(f"{where} {key!r} is not a non-empty string: {value!r}")
    return value


def rows_for(body: bytes | str, submission_date: dt.date) -> Outcome:
    if len(body) > MAX_MESSAGE_BYTES:
        return Quarantined(f"message of {len(body)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return Quarantined(f"not JSON: {err}")
    except RecursionError:
        return Quarantined("not JSON: nested too deeply")
    if not isinstance(message, dict):
        return Quarantined(f"not a JSON object but {type(message).__name__}")
    try:
        return _classify(message, submission_date)
    except _Bad as err:
        return Quarantined(str(err))


def _classify(message: dict[str, Any], submission_date: dt.date) -> Outcome:
    status = message.get("status")
    if status is None:
        return Ignored("no status")  # rule 1
    if not isinstance(status, dict):
        raise _Bad(f"status is not a mapping but {type(status).__name__}")
    task_id = _text(status, "taskId", "status")
    assert task_id is not None
    if status.get("state") == "unscheduled":
        return Unscheduled(task_id)  # rule 2
    run_id = message.get("runId")
    if run_id is None:
        return Ignored("no runId (the deadline passed before any run started)")  # rule 3
    runs = status.get("runs")
    if isinstance(run_id, bool) or not isinstance(run_id, int) or not isinstance(runs, list):
        raise _Bad(f"runId {run_id!r} or status.runs is malformed")
    if not 0 <= run_id < len(runs) or not isinstance(runs[run_id], dict):
        raise _Bad(f"runId {run_id} is out of range of status.runs ({len(runs)} runs)")
    run = runs[run_id]
    run_row = {  # rule 4
        "task_id": task_id,
        "run_id": run_id,
        "reason_created": _text(run, "reasonCreated", "run", required=False),
        "reason_resolved": _text(run, "reasonResolved", "run", required=False),
        "resolved": _timestamp(run, "resolved", required=True),
        "scheduled": _timestamp(run, "scheduled", required=True),
        "started": _timestamp(run, "started", required=False),
        "state": _text(run, "state", "run"),
        "submission_date": submission_date,
        "worker_group": _text(run, "workerGroup", "run", required=False),
        "worker_id": _text(run, "workerId", "run", required=False),
    }
    if run_id != 0:
        return Rows(run_row, None)
    task = message.get("task") or {}
    if not isinstance(task, dict):
        raise _Bad(f"task is not a mapping but {type(task).__name__}")
    task_row = {  # rule 5: if this cannot be built, the run row is not written either
        "scheduler_id": _text(status, "schedulerId", "status"),
        "submission_date": submission_date,
        "task_group_id": _text(status, "taskGroupId", "status"),
        "task_id": task_id,
        "task_queue_id": _text(status, "taskQueueId", "status"),
        "tags": tags_record(task.get("tags")),
    }
    return Rows(run_row, task_row)
