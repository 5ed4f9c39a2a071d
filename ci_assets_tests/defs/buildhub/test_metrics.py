"""What markus sends: a UDP server of the test's own receives the statsd datagrams of an SQS-driven
ingest, a listing-driven one, a search and the backfill, and every metric key Buildhub2's seed
names arrives with its type, under the `sqs` context only for what SQS delivered."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import dagster as dg
import psycopg
from starlette.testclient import TestClient

from ci_assets.defs.buildhub.assets import builds
from ci_assets.defs.buildhub.automation import METRICS_NAMESPACE, sqs_sensor
from ci_assets.defs.buildhub.backfill import backfill_job
from ci_assets.defs.buildhub.search.api import create_app, ensure_reader_role, reader_dsn
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib import metrics
from ci_assets_tests.defs.buildhub.conftest import BuildhubWorld
from ci_assets_tests.defs.buildhub.test_ingest import tick
from ci_assets_tests.defs.buildhub.test_jobs import connect_queue

# The seed's keys (Buildhub2's "Metrics" section) and their statsd types.
SEED_KEYS = {
    "sqs_process_buildhub_json_key": "ms", "sqs_inserted": "c", "sqs_not_inserted": "c", "sqs_messages": "c",
    "sqs_key_matched": "c", "sqs_not_key_matched": "c", "api_search": "ms", "api_search_records": "g",
    "api_search_requests": "c", "backfill_inserted": "c", "backfill_not_inserted": "c", "backfill_listed": "c",
    "backfill_matched": "c", "backfill": "ms",
}  # fmt: skip


class Statsd:
    """A UDP socket on a free port, keeping every datagram as (key, type) without the namespace."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.seen: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                for line in self.socket.recv(65536).decode().splitlines():
                    name, _, rest = line.partition(":")
                    self.seen.append((name.removeprefix(f"{METRICS_NAMESPACE}."), rest.split("|")[1]))

    def keys(self) -> dict[str, str]:
        return dict(self.seen)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.socket.close()


@contextlib.contextmanager
def statsd() -> Iterator[Statsd]:
    server = Statsd()
    metrics.configure_backends("127.0.0.1", server.port)
    try:
        yield server
    finally:
        metrics.configure_backends()  # markus' backends are per process: log lines again
        server.close()


def settle(server: Statsd) -> dict[str, str]:
    threading.Event().wait(0.5)  # the last datagrams in flight on the loopback
    return server.keys()


def test_every_seed_metric_arrives_and_sqs_counts_only_what_sqs_delivered(
    world: BuildhubWorld, moto_endpoint: str
) -> None:
    queue_url = connect_queue(world, moto_endpoint)
    settings = BuildhubSettings(bucket=world.bucket, sqs_queue_url=queue_url, sqs_endpoint_url=moto_endpoint)
    resources = {**world.resources, "buildhub_settings": settings}
    with statsd() as server:
        world.upload(6)
        found = sqs_sensor(dg.build_sensor_context(resources=resources, instance=world.instance))
        assert isinstance(found, dg.SensorResult) and found.run_requests
        for request in found.run_requests:
            result = dg.materialize(
                [builds], partition_key=request.partition_key, resources=resources, tags=request.tags
            )
            assert result.success
        by_sqs = settle(server)
        assert {k for k in by_sqs if k.startswith("sqs_")} >= {k for k in SEED_KEYS if k.startswith("sqs_")}

        server.seen.clear()
        world.upload(3)
        listed = tick(world)
        result = dg.materialize(
            [builds], partition_key=world.today, resources=resources, tags=listed.run_requests[0].tags
        )
        assert result.success
        by_listing = settle(server)
        assert "listing_inserted" in by_listing and not [k for k in by_listing if k.startswith("sqs_")]

        with psycopg.connect(world.dsn) as conn:
            ensure_reader_role(conn)
        with TestClient(create_app(reader_dsn(world.dsn))) as client:
            assert client.post("/api/search", json={"size": 1}).status_code == 200
        world.upload(2)
        assert backfill_job.execute_in_process(resources=resources, instance=world.instance).success
        everything = {**by_sqs, **settle(server)}
    assert {k: everything.get(k) for k in SEED_KEYS} == SEED_KEYS
