"""Session-wide real servers for the suite.

PostgreSQL and RabbitMQ are the machine's own (127.0.0.1:5432 and :5672); each
session gets a fresh database and a fresh vhost. S3/SQS is moto's HTTP server
and BigQuery is bqemulator, each on a free port. A server that cannot be reached
fails the tests that need it with the command that starts it; nothing is skipped.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_assets_tests.services import processes
from ci_assets_tests.services.databases import scratch_database
from ci_assets_tests.services.leftovers import leftovers, stop_servers_under
from ci_assets_tests.services.network import can_connect, free_port, wait_for_http

REPO = Path(__file__).resolve().parent.parent

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "RabbitMQ": "rabbitmq-server -detached",
}


def require_server(name: str, host: str, port: int) -> None:
    reason = can_connect(host, port)
    if reason is not None:
        pytest.fail(
            f"{name} at {host}:{port} is not reachable ({reason}); start it with: {HOW_TO_START[name]}",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def no_server_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, every embedded PostgreSQL the tests started under their temporary
    folders is stopped, and nothing the suite starts (emulator, workers, kinto, dev) is left running."""
    yield
    root = tmp_path_factory.getbasetemp()
    stop_servers_under(root)
    left = leftovers(str(root))
    assert not left, "servers left running by the tests:\n" + "\n".join(left)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Transient failures are retried as in production, but 10 ms apart instead of 10 s: the tests
    check that retries happen and are bounded, not how long the pauses are."""
    from ci_assets.lib import retries

    monkeypatch.setattr(retries, "BASE_SECONDS", 0.01)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped at the end of the session."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    with scratch_database("ci_assets_test") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def embedded_postgres_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The embedded server of the local default, in a throwaway directory; stops with the session."""
    from ci_assets.lib.storage.postgres import PostgresResource

    pgdata = tmp_path_factory.mktemp("embedded") / "pgdata"
    return PostgresResource(embedded_dir=str(pgdata), keep_running=False).uri()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3/SQS server over real HTTP, so boto3 runs exactly as in production."""
    from moto.server import ThreadedMotoServer

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ[key] = value
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bigquery_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """bqemulator (DuckDB behind BigQuery's REST API) in its own process."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("bqemulator") / "server.log"
    with log_path.open("wb") as log:
        proc = processes.start(
            [sys.executable, "-m", "ci_assets_tests.services.bigquery_emulator", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/bigquery/v2/projects/probe/datasets", timeout=90)
    except TimeoutError as err:
        processes.stop(proc, signal.SIGKILL)
        tail = log_path.read_text(errors="replace")[-2000:]
        pytest.fail(f"the BigQuery emulator did not start: {err}\n{tail}", pytrace=False)
    try:
        yield url
    finally:
        processes.stop(proc)


@dataclasses.dataclass(frozen=True)
class RabbitMQ:
    url: str
    vhost: str
    # Prefix for exchange and queue names, unique to this session.
    prefix: str


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQ]:
    """A fresh vhost on the machine's RabbitMQ, deleted at the end of the session."""
    require_server("RabbitMQ", "127.0.0.1", 5672)
    prefix = f"ci_assets_test_{uuid.uuid4().hex[:8]}"
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        # Without the admin tool, isolation comes from the unique names alone.
        yield RabbitMQ("amqp://guest:guest@127.0.0.1:5672//", "/", prefix)
        return
    subprocess.run([ctl, "-q", "add_vhost", prefix], check=True, capture_output=True)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", prefix, "guest", ".*", ".*", ".*"], check=True, capture_output=True
    )
    try:
        yield RabbitMQ(f"amqp://guest:guest@127.0.0.1:5672/{prefix}", prefix, prefix)
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", prefix], capture_output=True)


@pytest.fixture
def ci_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway `CI_ASSETS_HOME` with the local environment selected."""
    home = tmp_path / "ci_home"
    monkeypatch.setenv("CI_ASSETS_HOME", str(home))
    monkeypatch.setenv("CI_ASSETS_ENV", "local")
    return home


@pytest.fixture
def fresh_postgres(postgres_dsn: str) -> Iterator[str]:
    """An empty database of its own for one test, on the machine's PostgreSQL."""
    with scratch_database("ci_assets_t") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment outside the checkout, installed as the Dockerfile's build stage installs the
    image (its COPY set, `deploy/install.sh image`): the package from its wheel, not the checkout."""
    from ci_assets_tests.deploy.image import install_image_environment

    return install_image_environment(tmp_path_factory.mktemp("image"))
