"""A pulse world for a test: the machine's RabbitMQ with Taskcluster's exchanges, PostgreSQL, a lake."""

import copy
import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import kombu
import polars as pl
import pytest

from ci_assets.defs.fxci.assets import pulse_tables
from ci_assets.defs.fxci.pulse_rows import EXCHANGES
from ci_assets.lib.pulse import PulseResource
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetWriter
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.conftest import RabbitMQ

EXAMPLES = Path(__file__).parent / "pulse"
TODAY = dt.datetime.now(dt.UTC).date().isoformat()


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / f"{name}.json").read_text()))


class Broker:
    def __init__(self, rabbitmq: RabbitMQ, postgres_dsn: str, lake: Path):
        self.url, self.user = rabbitmq.url, f"test-{uuid.uuid4().hex[:8]}"
        self.dsn, self.lake = postgres_dsn, lake
        with kombu.Connection(self.url) as conn:  # Taskcluster's exchanges exist before anyone reads them
            for exchange in EXCHANGES.values():
                kombu.Exchange(exchange, type="topic", durable=True)(conn.channel()).declare()

    @property
    def resources(self) -> dict[str, Any]:
        return {
            "pulse": PulseResource(url=self.url, user=self.user),
            "postgres": PostgresResource(dsn=self.dsn),
            "warehouse_writer": ParquetWriter(
                store=LocalObjectStoreResource(root=str(self.lake)), bucket="lake", prefix="warehouse"
            ),
        }

    def publish(self, name: str, *bodies: bytes | dict[str, Any]) -> None:
        """Each body to the exchange `name` names, in order, over one connection."""
        with kombu.Connection(self.url) as conn:
            exchange = kombu.Exchange(EXCHANGES[name], type="topic", durable=True)
            producer = conn.Producer()
            for body in bodies:
                producer.publish(
                    body if isinstance(body, bytes) else json.dumps(body).encode(),
                    exchange=exchange,
                    routing_key="primary.task.x",
                    content_type="application/json",
                    content_encoding="binary",
                )

    def task_runs(self, first: int, count: int, run_id: Callable[[int], int] = lambda i: 0) -> list[dict[str, Any]]:
        """`task-exception` messages of tasks `task<first>`…: run `run_id(i)` of each."""
        template = example("task-exception-run1")
        messages = []
        for i in range(first, first + count):
            message = copy.deepcopy(template)
            message["status"]["taskId"] = f"task{i:05d}"
            message["runId"] = run_id(i)
            messages.append(message)
        return messages

    def run(self, day: str = TODAY, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [pulse_tables], partition_key=day, resources=self.resources, raise_on_error=False, instance=instance
        )

    def rows(self, table: str, day: str = TODAY) -> pl.DataFrame:
        path = self.lake / "lake" / "warehouse" / "moz-fx-data-shared-prod" / "fxci_derived" / table
        files = list(path.glob(f"submission_date={day}/data.parquet"))
        return pl.read_parquet(files[0]) if files else pl.DataFrame()


@pytest.fixture
def broker(rabbitmq: RabbitMQ, fresh_postgres: str, tmp_path: Path) -> Broker:
    return Broker(rabbitmq, fresh_postgres, tmp_path)
