"""Buildhub listing sensor: one tick that finds 100 new keys, on a bucket of 50,000 keys and of 1,000.

Keys follow the archive's nightly layout (one build an hour, foldered by year and
month), so the 100 new keys sort after the cursor where the previous tick stopped.
Run on moto's S3 server and on the local object store. Target: the big bucket's
tick <= 2x the small bucket's. Median of 5 ticks each.

moto answers ListObjectsV2 by filtering every key of the bucket in Python, so on
moto even a StartAfter listing costs the bucket's size; S3 itself seeks to the
marker. The local store prunes whole folders that sort before the cursor. A third run
puts a loopback proxy in front of moto that holds each request `--latency-ms` (20) first,
as real S3's round trips do.

    python bench/buildhub_sensor_tick.py [--big 50000] [--small 1000]
"""

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
from moto_process import moto_server

from ci_assets.defs.buildhub.automation import new_keys_sensor
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib.storage.object_store import ObjectStore
from ci_assets.lib.storage.object_store_resource import (
    LocalObjectStoreResource,
    ObjectStoreResource,
    S3ObjectStoreResource,
)
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.services.databases import scratch_database
from ci_assets_tests.services.faulty_proxy import Faults, faulty_proxy

NEW = 100
REPEAT = 5


START = dt.datetime(2019, 1, 1)


def key(hour: int) -> str:
    t = START + dt.timedelta(hours=hour)
    return f"pub/firefox/nightly/{t:%Y/%m/%Y-%m-%d-%H-%M-%S}-mozilla-central/buildhub.json"


def tick_times(objects: ObjectStore, resource: ObjectStoreResource, dsn: str, size: int) -> list[float]:
    bucket = f"tick-{size}-{uuid.uuid4().hex[:6]}"
    objects.create_bucket(bucket)

    def fill(hours: range) -> None:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda h: objects.put(bucket, key(h), b"{}"), hours))

    fill(range(size))
    resources = {
        "object_store": resource,
        "postgres": PostgresResource(dsn=dsn),
        "buildhub_settings": BuildhubSettings(bucket=bucket),
    }
    # The sensor has seen the bucket: ticks from no cursor until one finds nothing new (a tick takes
    # at most max_keys_per_tick keys; the first also does the day's re-listing from the start).
    cursor, found = None, True
    while found:
        with dg.DagsterInstance.ephemeral() as instance:
            result = new_keys_sensor()(dg.build_sensor_context(cursor=cursor, resources=resources, instance=instance))
        assert isinstance(result, dg.SensorResult)
        cursor, found = result.cursor or cursor, bool(result.run_requests)
    times = []
    for round_ in range(REPEAT):
        fill(range(size + round_ * NEW, size + (round_ + 1) * NEW))
        with dg.DagsterInstance.ephemeral() as instance:
            context = dg.build_sensor_context(cursor=cursor, resources=resources, instance=instance)
            t0 = time.perf_counter()
            result = new_keys_sensor()(context)
            times.append(time.perf_counter() - t0)
        assert isinstance(result, dg.SensorResult) and result.run_requests and result.cursor
        assert sum(int(r.tags["buildhub/new_keys"]) for r in result.run_requests) == NEW
        cursor = result.cursor
    return times


def measure(label: str, objects: ObjectStore, resource: ObjectStoreResource, dsn: str, small: int, big: int) -> None:
    tick_times(objects, resource, dsn, 10)  # warm up: schema creation, imports, connections
    small_ms = statistics.median(tick_times(objects, resource, dsn, small)) * 1000
    big_ms = statistics.median(tick_times(objects, resource, dsn, big)) * 1000
    print(f"sensor tick finding {NEW} new keys on {label}, median of {REPEAT}")
    print(f"  bucket of {small:>6,} keys: {small_ms:7.1f} ms")
    print(f"  bucket of {big:>6,} keys: {big_ms:7.1f} ms")
    print(f"  ratio: {big_ms / small_ms:.2f}x (target <= 2x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="S3 round trip added by the proxy run")
    args = parser.parse_args()
    with scratch_database("bench_tick") as dsn:
        with tempfile.TemporaryDirectory(prefix="bench-tick-") as root:
            local = LocalObjectStoreResource(root=root)
            measure("the local object store", local, local, dsn, args.small, args.big)
        with moto_server() as endpoint:
            s3 = S3ObjectStoreResource(endpoint_url=endpoint)
            measure("moto's S3 server", s3, s3, dsn, args.small, args.big)
            with faulty_proxy(endpoint, Faults(latency=args.latency_ms / 1000)) as slow:
                s3 = S3ObjectStoreResource(endpoint_url=slow)
                measure(f"moto's S3 server, {args.latency_ms:.0f} ms a request", s3, s3, dsn, args.small, args.big)


if __name__ == "__main__":
    main()
