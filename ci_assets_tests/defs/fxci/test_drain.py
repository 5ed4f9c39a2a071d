"""The pulse drain against the machine's RabbitMQ: rows, acks, quarantine, redelivery."""

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import dagster as dg
import kombu
import psycopg
import pytest

from ci_assets.defs.fxci.assets import pulse_tables
from ci_assets.defs.fxci.drain import Drained, UnknownExchangeError, broker_name, drain
from ci_assets.defs.fxci.partitions import DAYS
from ci_assets.defs.fxci.pulse_rows import EXCHANGES
from ci_assets.lib.pulse import PulseResource
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetWriter
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.defs.fxci.conftest import TODAY, Broker, example


def tallies(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    meta = result.asset_materializations_for_node("pulse_tables")[0].metadata
    return dict(meta["exchanges"].value)


def test_messages_become_rows_and_every_message_is_accounted_for(broker: Broker) -> None:
    first = broker.run()  # declares and binds the queues; nothing to read yet
    assert first.success and all(t["received"] == 0 for t in tallies(first).values())
    run0 = example("task-completed-run0")
    broker.publish("task-completed", run0)
    broker.publish("task-completed", run0)  # the same message twice
    broker.publish("task-exception", example("task-exception-run1"))
    broker.publish("task-exception", example("task-exception-deadline-no-run"))
    broker.publish("task-failed", example("task-defined-unscheduled"))
    broker.publish("task-failed", b"not json at all")
    broker.publish("task-failed", {"version": 1})

    result = broker.run()
    assert result.success
    counts = tallies(result)
    assert counts["task-completed"] == {
        "received": 2,
        "accepted": 1,
        "duplicate": 1,  # the same message twice: one row
        "rejected": 0,
        "ignored": 0,
        "run_rows": 1,
        "unscheduled": 0,
    }
    assert (counts["task-exception"]["run_rows"], counts["task-exception"]["ignored"]) == (1, 1)
    assert counts["task-failed"] == {
        "received": 3,
        "accepted": 1,
        "duplicate": 0,
        "rejected": 1,
        "ignored": 1,
        "run_rows": 0,
        "unscheduled": 1,
    }
    meta = result.asset_materializations_for_node("pulse_tables")[0].metadata
    assert {k: meta[k].value for k in ("received", "accepted", "duplicate", "rejected", "ignored")} == {
        "received": 7, "accepted": 3, "duplicate": 1, "rejected": 1, "ignored": 2,
    }  # fmt: skip
    reconciles = [c for c in result.get_asset_check_evaluations() if c.check_name == "reconciles"]
    assert len(reconciles) == 2 and all(c.passed for c in reconciles)
    runs = broker.rows("task_runs_v1").sort("run_id")
    assert runs.select("task_id", "run_id").rows() == [("Aq3fG7pXQ9mZk1b2c3d4eA", 0), ("Bx1yZ2aB3cD4eF5gH6iJ7k", 1)]
    tasks = broker.rows("tasks_v2")
    assert tasks["task_id"].to_list() == ["Aq3fG7pXQ9mZk1b2c3d4eA"]
    assert tasks["tags"].struct.field("worker_implementation").to_list() == ["generic-worker"]
    with psycopg.connect(broker.dsn) as conn:
        assert conn.execute("SELECT task_id FROM fxci.unscheduled_tasks").fetchall() == [("Dd3eE4fF5gG6hH7iI8jJ9k",)]
        quarantined = conn.execute("SELECT reason, detail->>'exchange' FROM quarantine").fetchall()
    assert quarantined[0][0].startswith("not JSON") and quarantined[0][1] == EXCHANGES["task-failed"]

    again = broker.run()  # everything was acked: nothing comes back
    assert all(t["received"] == 0 for t in tallies(again).values())


def test_a_run_that_breaks_the_contract_is_quarantined_with_its_rule(broker: Broker) -> None:
    broker.run()
    good = example("task-completed-run0")
    odd = copy.deepcopy(good)
    odd["status"]["taskId"] = "Zz9yY8xX7wW6vV5uU4tT3s"
    odd["status"]["runs"][0]["state"] = "vanished"  # not one of Taskcluster's run states
    broker.publish("task-completed", good)
    broker.publish("task-completed", odd)
    result = broker.run()
    assert result.success
    counts = tallies(result)["task-completed"]
    assert (counts["received"], counts["accepted"], counts["rejected"], counts["run_rows"]) == (2, 1, 1, 1)
    assert broker.rows("task_runs_v1")["task_id"].to_list() == [good["status"]["taskId"]]
    meta = result.asset_materializations_for_node("pulse_tables")[1].metadata
    assert meta["rejected_by_rule"].value == {
        "state: isin(['pending', 'running', 'completed', 'failed', 'exception'])": 1
    }
    assert all(c.passed for c in result.get_asset_check_evaluations() if c.check_name == "reconciles")
    with psycopg.connect(broker.dsn) as conn:
        [(source, rule)] = conn.execute("SELECT source, detail->>'rule' FROM quarantine").fetchall()
    assert source == "fxci-task_runs_v1" and rule.startswith("isin(")


def test_a_crash_between_write_and_ack_redelivers_without_duplicates(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker.run()
    broker.publish("task-exception", example("task-exception-run1"))
    run0 = copy.deepcopy(example("task-completed-run0"))
    broker.publish("task-completed", run0)

    def crash(self: Drained) -> None:
        # A process killed here is no transient failure to retry within the run: the run just ends.
        raise RuntimeError("killed between the write and the ack")

    monkeypatch.setattr(Drained, "ack", crash)
    assert not broker.run().success
    assert broker.rows("task_runs_v1").height == 2  # written, never acked
    monkeypatch.undo()

    redelivered = broker.run()
    assert redelivered.success
    assert sum(t["received"] for t in tallies(redelivered).values()) == 2
    assert broker.rows("task_runs_v1").height == 2 and broker.rows("tasks_v2").height == 1  # once each
    checks = {(c.asset_key.path[-1], c.check_name): c for c in redelivered.get_asset_check_evaluations()}
    unique_runs, unique_tasks = (
        checks["task_runs_v1", "primary_key_is_unique"],
        checks["tasks_v2", "primary_key_is_unique"],
    )
    assert unique_runs.passed and unique_runs.metadata["rows"].value == 2
    assert unique_tasks.passed and unique_tasks.metadata["duplicate_keys"].value == 0
    assert checks["task_runs_v1", "key_in_one_partition"].passed and checks["tasks_v2", "key_in_one_partition"].passed


def test_thousands_of_generated_messages(broker: Broker) -> None:
    broker.run()
    broker.publish("task-exception", *broker.task_runs(0, 2000, run_id=lambda i: i % 2))
    result = broker.run()
    assert result.success and tallies(result)["task-exception"]["run_rows"] == 2000
    assert broker.rows("task_runs_v1").height == 2000 and broker.rows("tasks_v2").height == 1000


def test_an_unknown_exchange_is_a_clear_error(broker: Broker) -> None:
    with kombu.Connection(broker.url) as conn, pytest.raises(UnknownExchangeError, match="does not exist"):
        drain(conn, broker.user, dt.date.today(), 10, {"nope": "exchange/taskcluster-queue/v1/no-such-thing"})
    assert DAYS.has_partition_key(TODAY)


def test_the_local_default_drains_the_filesystem_transport(ci_home: Path, fresh_postgres: str) -> None:
    """The embedded default has no broker: kombu's filesystem:// transport, same drain code."""
    pulse = PulseResource(url="filesystem://", user="local", folder=str(ci_home / "pulse"))
    with pulse.connection() as conn:  # declare and bind, as the first run would
        drain(conn, pulse.user, dt.date.today(), 10)
    with pulse.connection() as conn:
        exchange = kombu.Exchange(broker_name(conn, EXCHANGES["task-completed"]), type="topic", durable=True)
        queue = kombu.Queue(broker_name(conn, "queue/local/task-completed"), exchange, routing_key="#", durable=True)
        conn.Producer().publish(
            json.dumps(example("task-completed-run0")).encode(),
            exchange=exchange,
            routing_key="x",
            declare=[queue],
            content_type="application/json",
            content_encoding="binary",
        )
    resources = {
        "pulse": pulse,
        "postgres": PostgresResource(dsn=fresh_postgres),
        "warehouse_writer": ParquetWriter(
            store=LocalObjectStoreResource(root=str(ci_home)), bucket="lake", prefix="warehouse"
        ),
    }
    result = dg.materialize([pulse_tables], partition_key=TODAY, resources=resources)
    assert tallies(result)["task-completed"]["run_rows"] == 1
    again = dg.materialize([pulse_tables], partition_key=TODAY, resources=resources)
    assert tallies(again)["task-completed"]["received"] == 0  # acked: consumed for good
    # Every file of the transport, its control files included, stays under CI_ASSETS_HOME.
    assert (ci_home / "pulse" / "control").is_dir() and not Path("control").exists()


def test_the_broker_going_away_mid_drain_loses_nothing(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    broker.run()
    for i in range(10):
        message = copy.deepcopy(example("task-exception-run1"))
        message["status"]["taskId"] = f"gone{i}"
        broker.publish("task-exception", message)
    real_get = kombu.Queue.get
    calls = {"n": 0}

    def flaky_get(self: kombu.Queue, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 8:
            raise ConnectionResetError("broker went away")
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(kombu.Queue, "get", flaky_get)
    # A dropped connection is transient: the step goes again, and the second attempt drains it all.
    result = broker.run()
    assert result.success
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retried) == 1 and "broker went away" in str(retried[0].event_specific_data.error)
    assert broker.rows("task_runs_v1").height == 10  # each message once: nothing was acked before the failure

    # The broker stays away: bounded retries, then the run fails, and nothing is stored or acked.
    monkeypatch.setattr(kombu.Queue, "get", lambda *a, **k: (_ for _ in ()).throw(ConnectionResetError("gone")))
    broker.publish("task-exception", example("task-exception-run1"))
    failed = broker.run()
    assert not failed.success
    assert len([e for e in failed.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]) == 3
    monkeypatch.undo()
    assert broker.run().success and broker.rows("task_runs_v1").height == 11


def test_no_poison_message_stops_a_table(broker: Broker) -> None:
    """Whatever bytes a message holds (NUL bytes, not UTF-8, 1 MB, empty, a JSON scalar, NUL inside a
    JSON string), it is quarantined with its bytes visible as escapes and acked; the valid messages
    around it are stored and acked in the same run."""
    assert broker.run().success  # declares and binds the queues
    hostile = [
        b"\x00\xff\xfebinary\x00garbage",
        b"\xc3\x28 not utf-8",
        b"[" * (1 << 20),
        b"",
        b"42",
        json.dumps({"status": {"taskId": "a\u0000b"}, "runId": 0}).encode(),
    ]
    broker.publish("task-completed", example("task-completed-run0"))
    for body in hostile:
        broker.publish("task-failed", body)
    broker.publish("task-exception", example("task-exception-run1"))
    result = broker.run()
    assert result.success
    counts = tallies(result)
    assert counts["task-failed"]["received"] == len(hostile)
    assert counts["task-failed"]["rejected"] + counts["task-failed"]["ignored"] == len(hostile)
    assert broker.rows("task_runs_v1").height == 2  # both valid runs stored
    with psycopg.connect(broker.dsn) as conn:
        excerpts = [r[0] for r in conn.execute("SELECT raw_excerpt FROM quarantine").fetchall()]
    assert any(e and e.startswith("\\x00\\xff\\xfebinary") for e in excerpts), excerpts
    again = broker.run()  # every message was acked: none comes back to fail a later drain
    assert again.success and all(t["received"] == 0 for t in tallies(again).values())


YESTERDAY = (dt.date.fromisoformat(TODAY) - dt.timedelta(days=1)).isoformat()


def test_a_run_is_stored_once_whatever_day_its_redelivery_arrives(broker: Broker) -> None:
    """Same-day and next-day redelivery, and Taskcluster's repeated task-exception for a run it already
    resolved: each run stays in the day that first took it in, with its first resolution, counted as a
    duplicate on the later day (placement.py says why the first day keeps it)."""
    assert broker.run(YESTERDAY).success
    completed, exception = example("task-completed-run0"), example("task-exception-run1")
    broker.publish("task-completed", completed)
    broker.publish("task-exception", exception)
    assert broker.run(YESTERDAY).success
    broker.publish("task-completed", completed)  # redelivered the same day
    again = broker.run(YESTERDAY)
    assert tallies(again)["task-completed"]["duplicate"] == 1 and tallies(again)["task-completed"]["accepted"] == 0
    broker.publish("task-completed", completed)  # redelivered the next day
    broker.publish("task-exception", exception)  # Taskcluster repeats a resolved run's exception
    resolved = example("task-exception-run1")
    resolved["runId"] = 0
    resolved["status"]["taskId"] = completed["status"]["taskId"]  # an exception for a run already completed
    broker.publish("task-exception", resolved)
    later = broker.run(TODAY)
    assert later.success
    counts = tallies(later)
    assert counts["task-completed"]["duplicate"] == 1 and counts["task-exception"]["duplicate"] == 2
    assert broker.rows("task_runs_v1", TODAY).height == 0 and broker.rows("tasks_v2", TODAY).height == 0
    runs = broker.rows("task_runs_v1", YESTERDAY).sort("run_id")
    assert runs.select("task_id", "run_id").rows() == [
        (completed["status"]["taskId"], 0),
        (exception["status"]["taskId"], 1),
    ]
    assert runs["state"].to_list()[0] == "completed"  # the first resolution stands
    reconciles = [c for c in later.get_asset_check_evaluations() if c.check_name == "reconciles"]
    assert reconciles and all(c.passed for c in reconciles)


def test_a_run_claimed_but_not_written_is_written_into_the_day_that_claimed_it(broker: Broker) -> None:
    """A drain that died after claiming its runs and before writing them: the next day's redelivery
    writes the run into the claiming day, once."""
    from ci_assets.lib import first_seen

    completed = example("task-completed-run0")
    with psycopg.connect(broker.dsn) as conn:  # what the dead drain had committed: its claim, no write
        first_seen.claim(
            conn, "fxci/task_runs_v1", [f"{completed['status']['taskId']}/0"], [dt.date.fromisoformat(YESTERDAY)]
        )
    assert broker.run(TODAY).success
    broker.publish("task-completed", completed)
    result = broker.run(TODAY)
    assert result.success
    assert broker.rows("task_runs_v1", YESTERDAY).height == 1 and broker.rows("task_runs_v1", TODAY).height == 0
    late = [m for m in result.get_asset_materialization_events() if m.partition == YESTERDAY]
    assert late, "the claiming day's partition is recorded as materialized again"


def test_a_key_in_two_partitions_fails_the_check(broker: Broker) -> None:
    """The check looks across partitions: a run stored today that another day holds (here, as data
    stored before the ledger existed would be) is named."""
    assert broker.run().success
    broker.publish("task-exception", example("task-exception-run1"))
    assert broker.run().success
    with psycopg.connect(broker.dsn) as conn:
        conn.execute("UPDATE first_seen SET partition = %s WHERE table_name = 'fxci/task_runs_v1'", (YESTERDAY,))
    result = broker.run()
    checks = {(c.asset_key.path[-1], c.check_name): c for c in result.get_asset_check_evaluations()}
    failed = checks["task_runs_v1", "key_in_one_partition"]
    assert not failed.passed and failed.metadata["keys_in_another_partition"].value == 1
    assert checks["tasks_v2", "key_in_one_partition"].passed
