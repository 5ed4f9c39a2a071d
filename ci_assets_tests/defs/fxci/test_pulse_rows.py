"""pulse.md's message -> row rules, on the reference example messages and on bad input."""

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ci_assets.defs.fxci.pulse_rows import Ignored, Quarantined, Rows, Unscheduled, normalise_tag, rows_for
from ci_assets.defs.fxci.schemas import known_tags, polars_schema

EXAMPLES = Path(__file__).parent / "pulse"
TODAY = dt.date(2024, 5, 1)


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / f"{name}.json").read_text()))


def outcome(message: Any) -> Any:
    return rows_for(json.dumps(message), TODAY)


def test_run_zero_gives_a_run_row_and_a_task_row_with_the_eleven_tags() -> None:
    result = outcome(example("task-completed-run0"))
    assert isinstance(result, Rows) and result.task is not None
    assert result.run == {
        "task_id": "Aq3fG7pXQ9mZk1b2c3d4eA",
        "run_id": 0,
        "reason_created": "scheduled",
        "reason_resolved": "completed",
        "resolved": dt.datetime(2024, 5, 1, 10, 21, 43, 877000, tzinfo=dt.UTC),
        "scheduled": dt.datetime(2024, 5, 1, 10, 0, 1, 512000, tzinfo=dt.UTC),
        "started": dt.datetime(2024, 5, 1, 10, 0, 5, 4000, tzinfo=dt.UTC),
        "state": "completed",
        "submission_date": TODAY,
        "worker_group": "us-central1-b",
        "worker_id": "7212437918822451322",
    }
    assert result.task["tags"] == {
        "created_for_user": "someone@example.com",
        "kind": "test",
        "label": "test-linux1804-64-qr/opt-mochitest-browser-chrome-1",
        "os": "linux",
        "owned_by": "someone@example.com",
        "project": "mozilla-central",
        "trust_domain": "gecko",
        "worker_implementation": "generic-worker",
        "test_suite": "mochitest-browser-chrome",
        "test_platform": "linux1804-64-qr/opt",
        "test_variant": "default",
    }  # "retrigger" is not one of the 11: dropped
    assert (result.task["scheduler_id"], result.task["task_queue_id"]) == ("gecko-level-3", "gecko-t/t-linux-large")
    # The rows fit the production schemas exactly.
    pl.DataFrame([result.run], schema=polars_schema("task_runs_v1"))
    pl.DataFrame([result.task], schema=polars_schema("tasks_v2"))


def test_a_later_run_gives_only_its_run_row() -> None:
    result = outcome(example("task-exception-run1"))
    assert isinstance(result, Rows) and result.task is None
    assert (result.run["run_id"], result.run["reason_created"], result.run["worker_id"]) == (
        1,
        "retry",
        "vm-9f8e7d6c5b4a",
    )


def test_unscheduled_and_ignored_messages() -> None:
    assert outcome(example("task-defined-unscheduled")) == Unscheduled("Dd3eE4fF5gG6hH7iI8jJ9k")
    assert isinstance(outcome(example("task-exception-deadline-no-run")), Ignored)
    assert outcome({"version": 1}) == Ignored("no status")


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("createdForUser", "created_for_user"),
        ("worker-implementation", "worker_implementation"),
        ("test suite", "test_suite"),
        ("trustDomain", "trust_domain"),
        ("os", "os"),
    ],
)
def test_tag_names_are_normalised(key: str, name: str) -> None:
    assert normalise_tag(key) == name and len(known_tags()) == 11


def _broken(change: Any) -> dict[str, Any]:
    message = copy.deepcopy(example("task-completed-run0"))
    change(message)
    return message


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b" " * (2 << 20), "over the"),
        (_broken(lambda m: m["status"].pop("taskId")), "status has no 'taskId'"),
        (_broken(lambda m: m.update(runId=3)), "runId 3 is out of range"),
        (_broken(lambda m: m.update(runId=-1)), "runId -1 is out of range"),
        (_broken(lambda m: m["task"].update(tags=["a"])), "task.tags is not a mapping"),
        (_broken(lambda m: m["status"]["runs"][0].update(resolved="yesterday")), "does not parse"),
        (_broken(lambda m: m["status"]["runs"][0].pop("scheduled")), "run has no 'scheduled'"),
        (_broken(lambda m: m["status"].pop("schedulerId")), "status has no 'schedulerId'"),
        (_broken(lambda m: m.update(status="done")), "status is not a mapping"),
    ],
)
def test_bad_messages_are_quarantined_with_the_reason(message: Any, reason: str) -> None:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    result = rows_for(body, TODAY)
    assert isinstance(result, Quarantined) and reason in result.reason, result


def test_generated_messages_follow_the_rules_and_fit_the_schemas() -> None:
    import random

    from ci_assets.defs.fxci.samples import message

    rng = random.Random(4)
    outcomes = [outcome(message(rng, "task-failed", dt.datetime(2024, 5, 1, tzinfo=dt.UTC))) for _ in range(500)]
    assert not [o for o in outcomes if isinstance(o, Quarantined)]
    rows = [o for o in outcomes if isinstance(o, Rows)]
    assert {type(o) for o in outcomes} == {Rows, Unscheduled, Ignored} and len(rows) > 400
    pl.DataFrame([r.run for r in rows], schema=polars_schema("task_runs_v1"))
    pl.DataFrame([r.task for r in rows if r.task], schema=polars_schema("tasks_v2"))
