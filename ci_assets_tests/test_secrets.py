"""Credentials never show: the code location loaded with secret-bearing variables, run for real,
and the secrets searched for in everything the Dagster UI can show."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import kombu
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster_shared.serdes import serialize_value

from ci_assets.definitions import build_definitions
from ci_assets.defs.fxci.pulse_rows import EXCHANGES
from ci_assets.defs.fxci.samples import message
from ci_assets.lib import env
from ci_assets_tests.conftest import RabbitMQ

TODAY = dt.datetime.now(dt.UTC).date().isoformat()
SECRET_VARIABLES = [v.name for v in env.VARIABLES if v.secret]


@pytest.fixture
def pulse_user(rabbitmq: RabbitMQ) -> Iterator[tuple[str, str]]:
    """A RabbitMQ user of its own whose password is a secret nobody else uses."""
    ctl = shutil.which("rabbitmqctl")
    assert ctl, "rabbitmqctl is needed to create a user with a password of its own"
    user, password = f"secret_{uuid.uuid4().hex[:8]}", f"PulsePw-{uuid.uuid4().hex}"
    subprocess.run([ctl, "-q", "add_user", user, password], check=True, capture_output=True)
    subprocess.run([ctl, "-q", "set_permissions", "-p", rabbitmq.vhost, user, ".*", ".*", ".*"], check=True)
    try:
        yield user, password
    finally:
        subprocess.run([ctl, "-q", "delete_user", user], capture_output=True)


def everything_shown(defs: dg.Definitions, instance: dg.DagsterInstance) -> str:
    """The repository snapshot (resource config included) and every run's config, tags and events."""
    shown = [serialize_value(RepositorySnap.from_def(defs.get_repository_def()))]
    for run in instance.get_runs():
        shown.append(json.dumps(run.run_config, default=str))
        shown.append(json.dumps(run.tags, default=str))
        shown.extend(serialize_value(record) for record in instance.all_logs(run.run_id))
    return "\n".join(shown)


def test_no_secret_reaches_the_ui(
    rabbitmq: RabbitMQ,
    pulse_user: tuple[str, str],
    fresh_postgres: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, pulse_password = pulse_user
    pg_password = f"PgPw-{uuid.uuid4().hex}"  # trust auth on the test server: accepted and ignored
    host_and_db = fresh_postgres.removeprefix("postgresql://postgres@")
    variables = {
        "CI_ASSETS_HOME": str(tmp_path / "home"),
        "CI_ASSETS_POSTGRES_DSN": f"postgresql://postgres:{pg_password}@{host_and_db}",
        "CI_ASSETS_AGGREGATES_DSN": f"postgresql://postgres:{pg_password}-agg@{host_and_db}",
        "CI_ASSETS_BUILDHUB_SEARCH_DSN": f"postgresql://postgres:{pg_password}-search@{host_and_db}",
        "CI_ASSETS_PULSE_URL": f"amqp://{user}:{pulse_password}@127.0.0.1:5672/{rabbitmq.vhost}",
        "CI_ASSETS_PULSE_USER": user,
        "CI_ASSETS_SLACK_CHANNEL": "#ci-alerts",
        "CI_ASSETS_SLACK_TOKEN": f"xoxb-{uuid.uuid4().hex}",
    }
    assert set(SECRET_VARIABLES) <= set(variables)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(env.read(variables))

    with kombu.Connection(rabbitmq.url) as conn:  # Taskcluster's exchanges, and one message to drain
        for exchange in EXCHANGES.values():
            kombu.Exchange(exchange, type="topic", durable=True)(conn.channel()).declare()
    import random

    body = message(random.Random(1), "task-completed", dt.datetime.now(dt.UTC))
    job = defs.resolve_job_def("fxci_pulse")
    with dg.instance_for_test() as instance:
        first = job.execute_in_process(partition_key=TODAY, instance=instance)
        assert first.success  # the secrets were resolved and used: the broker and PostgreSQL took them
        with kombu.Connection(rabbitmq.url) as conn:
            exchange = kombu.Exchange(EXCHANGES["task-completed"], type="topic", durable=True)
            conn.Producer().publish(json.dumps(body).encode(), exchange=exchange, routing_key="primary.x")
        second = job.execute_in_process(partition_key=TODAY, instance=instance)
        assert second.success
        drained = second.asset_materializations_for_node("pulse_tables")[0].metadata["exchanges"].value
        assert drained["task-completed"]["received"] == 1

        # A broker that refuses the connection: the failure's message and stack are shown too.
        monkeypatch.setenv("CI_ASSETS_PULSE_URL", f"amqp://{user}:{pulse_password}@127.0.0.1:1/{rabbitmq.vhost}")
        failed = job.execute_in_process(partition_key=TODAY, instance=instance, raise_on_error=False)
        assert not failed.success

        shown = everything_shown(defs, instance)
    for secret in (pulse_password, pg_password, variables["CI_ASSETS_SLACK_TOKEN"]):
        assert secret not in shown
    assert "CI_ASSETS_PULSE_URL" in shown  # the resource config names the variable instead
