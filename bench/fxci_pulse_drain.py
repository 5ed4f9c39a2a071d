"""Pulse drain: 100,000 messages from RabbitMQ (127.0.0.1) into tasks_v2 / task_runs_v1.

Baseline (same script, same broker, same messages): a raw kombu drain that only gets
and acks. Ours: the `fxci/pulse_tables` materialization — classify, store the rows in
the local lake, record quarantine and unscheduled ids in PostgreSQL, then ack.
Target: ours >= 0.5x the raw rate.

    python bench/fxci_pulse_drain.py [--messages 100000]
"""

import argparse
import datetime as dt
import json
import random
import tempfile
import time
import uuid

import dagster as dg
import kombu

from ci_assets.defs.fxci.assets import pulse_tables
from ci_assets.defs.fxci.drain import queue_name
from ci_assets.defs.fxci.pulse_rows import EXCHANGES
from ci_assets.defs.fxci.samples import message
from ci_assets.lib.pulse import PulseResource
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetWriter
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.services.databases import scratch_database

URL = "amqp://guest:guest@127.0.0.1:5672//"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    ours_user, raw_user = f"bench-{uuid.uuid4().hex[:6]}", f"raw-{uuid.uuid4().hex[:6]}"
    exchange = kombu.Exchange(EXCHANGES["task-completed"], type="topic", durable=True)
    queues = [
        kombu.Queue(queue_name(user, name), kombu.Exchange(ex, type="topic", durable=True), routing_key="#")
        for user in (ours_user, raw_user)
        for name, ex in EXCHANGES.items()
    ]
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    with kombu.Connection(URL) as conn:
        channel = conn.channel()
        for queue in queues:
            queue(channel).declare()
        producer = conn.Producer()
        t0 = time.perf_counter()
        for i in range(args.messages):
            body = json.dumps(message(rng, "task-completed", now - dt.timedelta(seconds=i))).encode()
            producer.publish(
                body,
                exchange=exchange,
                routing_key="primary",
                content_type="application/json",
                content_encoding="binary",
            )
        published = time.perf_counter() - t0
    print(f"{args.messages:,} messages published to both queues in {published:.1f} s")

    with kombu.Connection(URL) as conn:
        raw_queue = kombu.Queue(queue_name(raw_user, "task-completed"), exchange, routing_key="#")(conn.channel())
        t0 = time.perf_counter()
        raw = 0
        while (got := raw_queue.get(no_ack=False)) is not None:
            got.ack()
            raw += 1
        raw_seconds = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as lake, scratch_database("bench_pulse") as dsn:
        resources = {
            "pulse": PulseResource(url=URL, user=ours_user),
            "postgres": PostgresResource(dsn=dsn),
            "warehouse_writer": ParquetWriter(
                store=LocalObjectStoreResource(root=lake), bucket="lake", prefix="warehouse"
            ),
        }
        t0 = time.perf_counter()
        result = dg.materialize(
            [pulse_tables], partition_key=now.date().isoformat(), resources=resources, run_config=QUIET
        )
        ours_seconds = time.perf_counter() - t0
        tally = result.asset_materializations_for_node("pulse_tables")[0].metadata["exchanges"].value
    assert raw == args.messages and tally["task-completed"]["received"] == args.messages
    assert all(t["received"] == t["accepted"] + t["duplicate"] + t["rejected"] + t["ignored"] for t in tally.values())

    with kombu.Connection(URL) as conn:
        channel = conn.channel()
        for queue in queues:
            queue(channel).delete()
    print(f"  raw kombu get + ack:           {raw_seconds:6.2f} s  {raw / raw_seconds:8.0f} messages/s")
    print(f"  pulse_tables (rows, then ack): {ours_seconds:6.2f} s  {args.messages / ours_seconds:8.0f} messages/s")
    print(f"ratio: {raw_seconds / ours_seconds:.2f}x the raw rate (target >= 0.5x)")


if __name__ == "__main__":
    main()
