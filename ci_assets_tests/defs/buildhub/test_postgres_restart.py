"""PostgreSQL restarting in the middle of a Buildhub day's write (a server of the test's own).

The run stands still inside its batch's transaction while the server goes down: when it is back
at once, the step is retried within the policy's bound and stores each build once; when it stays
down, the run fails after those retries, naming the connection, and loses nothing: a later run
stores every key.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from ci_assets.defs.buildhub.assets import builds
from ci_assets.lib import retries
from ci_assets.lib.inventory import KeyInventory
from ci_assets_tests.defs.buildhub.conftest import BuildhubWorld, buildhub_world
from ci_assets_tests.defs.buildhub.test_ingest import tick
from ci_assets_tests.services.databases import RestartablePostgres, restartable_postgres


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RestartablePostgres]:
    with restartable_postgres(tmp_path / "pgdata") as server:
        yield server


@pytest.fixture
def own_world(server: RestartablePostgres, moto_endpoint: str) -> Iterator[BuildhubWorld]:
    with buildhub_world(moto_endpoint, server.dsn) as world:
        yield world


def _run_while(world: BuildhubWorld, monkeypatch: pytest.MonkeyPatch, outage) -> dg.ExecuteInProcessResult:
    """Materialize the day; at the batch's first write to the inventory (its transaction open),
    hold the run while `outage()` runs in the test's thread."""
    reached, resume = threading.Event(), threading.Event()
    original = KeyInventory.mark

    def held(self: KeyInventory, *args: object, **kwargs: object) -> None:
        if not reached.is_set():
            reached.set()
            assert resume.wait(60)
        original(self, *args, **kwargs)

    monkeypatch.setattr(KeyInventory, "mark", held)
    result: list[dg.ExecuteInProcessResult] = []
    run = threading.Thread(
        target=lambda: result.append(
            dg.materialize([builds], partition_key=world.today, resources=world.resources, raise_on_error=False)
        )
    )
    run.start()
    try:
        assert reached.wait(60), "the run never reached its write"
        outage()
    finally:
        resume.set()
        run.join(120)
    monkeypatch.setattr(KeyInventory, "mark", original)
    return result[0]


def _stored(world: BuildhubWorld) -> list[str]:
    with psycopg.connect(world.dsn) as conn:
        return [r[0] for r in conn.execute("SELECT s3_object_key FROM buildhub.main_build ORDER BY 1")]


def _restarts(result: dg.ExecuteInProcessResult) -> int:
    return sum(1 for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_RESTARTED)


def test_a_restart_mid_write_is_retried_and_each_build_stored_once(
    own_world: BuildhubWorld, server: RestartablePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploaded = sorted(key for key, _ in own_world.upload(30))
    tick(own_world)

    def restart() -> None:
        server.stop()
        server.start()

    result = _run_while(own_world, monkeypatch, restart)
    assert result.success and _restarts(result) == 1
    assert _stored(own_world) == uploaded


def test_a_server_down_longer_than_the_retries_fails_the_run_clearly_and_loses_nothing(
    own_world: BuildhubWorld, server: RestartablePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploaded = sorted(key for key, _ in own_world.upload(30))
    tick(own_world)
    result = _run_while(own_world, monkeypatch, server.stop)  # and it stays down
    assert not result.success and _restarts(result) == retries.MAX_RETRIES
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    error = failure.step_failure_data.error
    assert error is not None and "OperationalError" in error.to_string(), error

    server.start()
    assert _stored(own_world) == []  # the batch's transaction died with the server: nothing half-stored
    again = dg.materialize([builds], partition_key=own_world.today, resources=own_world.resources)
    assert again.success and _stored(own_world) == uploaded
