"""A pulse drain SIGKILLed while it writes its day's partitions: RabbitMQ redelivers, nothing lands twice;
killed after its rows were stored, the run that finds them counts them accepted."""

from pathlib import Path

import dagster as dg

from ci_assets_tests.crash import FreezePoint, crash_mid_write
from ci_assets_tests.defs.fxci.conftest import Broker

MID_WRITE = FreezePoint("polars:DataFrame.write_parquet")  # a partition's file staged, not yet in place


def drain_day(broker: Broker) -> None:
    assert broker.run().success


def test_a_drain_killed_mid_write_leaves_the_old_partitions_and_the_redelivery_stores_each_run_once(
    broker: Broker,
) -> None:
    drain_day(broker)  # declares the queues
    broker.publish("task-exception", *broker.task_runs(0, 40))
    drain_day(broker)

    def stored() -> tuple[list[str], list[tuple[str, int]]]:
        tasks = sorted(broker.rows("tasks_v2")["task_id"].to_list())
        runs = sorted(broker.rows("task_runs_v1").select("task_id", "run_id").rows())
        return tasks, runs

    old = stored()
    assert len(old[0]) == len(old[1]) == 40
    broker.publish("task-exception", *broker.task_runs(40, 60))

    def reader() -> None:
        assert list(broker.lake.rglob(".ci-assets-partial-*")), "the drain is not in the middle of its write"
        assert stored() == old

    crash_mid_write(drain_day, (broker,), MID_WRITE, reader)
    assert stored() == old  # killed before the ack: RabbitMQ holds the 60 messages again

    drain_day(broker)
    tasks, runs = stored()
    assert tasks == [f"task{i:05d}" for i in range(100)]
    assert runs == [(f"task{i:05d}", 0) for i in range(100)]
    drain_day(broker)  # and nothing is left in the queue to store again
    assert stored() == (tasks, runs)
    assert not list(broker.lake.rglob(".ci-assets-partial-*"))


AFTER_THE_WRITE = FreezePoint("ci_assets.defs.fxci.placement:mark_stored", call=2)  # both tables marked, no ack


def drain_day_in(broker: Broker, instance_dir: str) -> None:
    with dg.DagsterInstance.from_config(instance_dir) as instance:
        assert broker.run(instance=instance).success


def test_rows_a_killed_drain_stored_are_accepted_by_the_run_that_finds_them(broker: Broker, tmp_path: Path) -> None:
    """The drain is killed after its rows and their ledger marks were committed, before the ack and
    before Dagster recorded anything: run monitoring marks it failed, RabbitMQ redelivers, and the next
    drain stores nothing again yet records the 25 runs as accepted (not duplicate), so the partition's
    numbers are as true as its data."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    drain_day(broker)  # declares the queues
    broker.publish("task-exception", *broker.task_runs(0, 25))
    crash_mid_write(drain_day_in, (broker, str(home)), AFTER_THE_WRITE)
    assert len(broker.rows("task_runs_v1")) == 25  # stored by the killed run, never reported
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [killed] = instance.get_runs()
        assert killed.status == dg.DagsterRunStatus.STARTED
        instance.report_run_failed(killed)  # what run monitoring does for a run whose process died
        result = broker.run(instance=instance)
    assert result.success
    [runs] = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == "task_runs_v1"]
    metadata = {k: v.value for k, v in runs.materialization.metadata.items()}
    assert (metadata["received"], metadata["accepted"], metadata["duplicate"]) == (25, 25, 0)
    assert len(broker.rows("task_runs_v1")) == 25  # and nothing was stored twice
    again = broker.run()
    [runs] = [m for m in again.get_asset_materialization_events() if m.asset_key.path[-1] == "task_runs_v1"]
    assert runs.materialization.metadata["received"].value == 0  # acked: nothing redelivered
