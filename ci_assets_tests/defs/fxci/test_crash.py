"""A pulse drain SIGKILLed while it writes its day's partitions: RabbitMQ redelivers, nothing lands twice."""

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
