"""One day of an ActiveData bucket on moto's S3 server: 1,000 files, 1,000,000 records.

The asset's run (inventory lookup, parallel downloads, every line parsed and checked,
bad lines quarantined, the day's records stored as Parquet, the two `_id` checks)
against a plain boto3 download of the same files with as many threads. moto runs in a
process of its own. Prints records per second for both, and where the run's time goes: its
step cut at its own events (read and check until the Output, the Parquet write until the IO
manager is done, then the keys marked and the checks), the CPU seconds of this process, of its
line parsers and of moto's during the run, and parsing every line alone (one thread, files already in memory).

Run on moto as it is, and with each request held 20 ms (real S3's round trip; moto_process.py).

    python bench/activedata_read.py [--files 1000] [--records 1000] [--latency-ms 0,20]
"""

import argparse
import datetime as dt
import random
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import dagster as dg
import psutil
from moto_process import moto_server

from ci_assets.defs.activedata.assets import BUCKET_ASSETS
from ci_assets.defs.activedata.automation import new_keys_sensor
from ci_assets.defs.activedata.records import read_records
from ci_assets.defs.activedata.samples import bucket_file
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets.lib.storage.object_store_resource import (
    LocalObjectStoreResource,
    S3ObjectStoreResource,
)
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.services.databases import scratch_database

BUCKET = "active-data-test-result"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--latency-ms", default="0,20", help="moto's runs: the round trip each request is held")
    args = parser.parse_args()
    for latency_ms in map(float, args.latency_ms.split(",")):
        measure(args.files, args.records, latency_ms)


def measure(files_count: int, records_count: int, latency_ms: float) -> None:
    settings = ActiveDataSettings(buckets=[BUCKET])
    with (
        moto_server(latency_ms) as endpoint,
        scratch_database("ci_assets_bench_activedata") as dsn,
        tempfile.TemporaryDirectory() as tmp,
    ):
        store = S3ObjectStoreResource(endpoint_url=endpoint)
        store.create_bucket(BUCKET)
        rng = random.Random(7)
        files = [
            bucket_file(BUCKET, rng, 1623116 + i // 100, 162311556 + i, i % 60, records_count)
            for i in range(files_count)
        ]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda f: store.put(BUCKET, f[0], f[1]), files))
        size = sum(len(body) for _, body in files)
        resources = {
            "object_store": store,
            "postgres": PostgresResource(dsn=dsn),
            "lake_io_manager": ParquetIOManager(store=LocalObjectStoreResource(root=tmp, fsync=False), bucket="lake"),
            "activedata_settings": settings,
        }
        with dg.build_sensor_context(resources=resources) as context:
            (request,) = new_keys_sensor(context).run_requests
        day = dt.datetime.now(dt.UTC).date().isoformat()
        assert request.partition_key == day

        client = boto3.client("s3", endpoint_url=endpoint)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(settings.download_threads) as pool:
            got = list(pool.map(lambda f: client.get_object(Bucket=BUCKET, Key=f[0])["Body"].read(), files))
        plain = time.perf_counter() - t0
        assert sum(map(len, got)) == size

        t0 = time.perf_counter()
        for body in got:
            read_records(body)
        parse_alone = time.perf_counter() - t0

        moto = next(p for p in psutil.Process().children() if "ThreadedMotoServer" in " ".join(p.cmdline()))
        moto_cpu, own_cpu, parsers_cpu = sum(moto.cpu_times()[:2]), time.process_time(), children_cpu()
        instance = dg.DagsterInstance.ephemeral()
        t0 = time.perf_counter()
        result = dg.materialize(
            [BUCKET_ASSETS[BUCKET]], partition_key=day, resources=resources, run_config=QUIET, instance=instance
        )
        ours = time.perf_counter() - t0
        moto_cpu, own_cpu = sum(moto.cpu_times()[:2]) - moto_cpu, time.process_time() - own_cpu
        parsers_cpu = children_cpu() - parsers_cpu
        step = step_times(instance, result.run_id)
        meta = result.asset_materializations_for_node(BUCKET_ASSETS[BUCKET].node_def.name)[0].metadata
        records = meta["accepted"].value
        assert result.success and records == files_count * records_count and meta["rejected"].value == 0

    where = f"moto, each request held {latency_ms:.0f} ms" if latency_ms else "moto"
    print(f"one day of {BUCKET} on {where}: {files_count} files, {records:,} records, {size / 1e6:.0f} MB gzip")
    threads = settings.download_threads
    print(f"  plain boto3 download ({threads} threads): {plain:6.2f} s  {records / plain:10,.0f} records/s")
    print(f"  the asset's run (read, check, store):   {ours:6.2f} s  {records / ours:10,.0f} records/s")
    print(f"  ratio: {ours / plain:.2f}x the download alone")
    print("  where the run's time goes:")
    for part, seconds in step.items():
        print(f"    {part:44s} {seconds:6.2f} s")
    print(
        f"    CPU during the run: this process {own_cpu:.2f} s, its line parsers {parsers_cpu:.2f} s, moto's "
        f"{moto_cpu:.2f} s (2 cores: {2 * ours:.2f} s)"
    )
    print(f"    parsing every line alone (one thread, in memory): {parse_alone:.2f} s")


def children_cpu() -> float:
    """CPU seconds of the finished child processes (the run's line parsers; moto is still running)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def step_times(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    first: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        if entry.dagster_event is not None:
            first.setdefault(entry.dagster_event.event_type.name, entry.timestamp)
    marks = ["STEP_START", "STEP_OUTPUT", "HANDLED_OUTPUT", "STEP_SUCCESS"]
    names = ["download, parse, frame, contract (to Output)", "Parquet write (IO manager)", "keys marked, checks"]
    return {n: first[b] - first[a] for n, a, b in zip(names, marks[:-1], marks[1:], strict=True)}


if __name__ == "__main__":
    main()
