"""One day of an ActiveData bucket on moto's S3 server: 1,000 files, 1,000,000 records.

The asset's run (inventory lookup, parallel downloads, every line parsed and checked,
bad lines quarantined, the day's records stored as Parquet, the two `_id` checks)
against a plain boto3 download of the same files with as many threads; the store's own GETs
(a presigned URL fetched with urllib3, about half boto3's CPU a GET: lib/storage/s3_get.py) are
timed alone once too. moto runs in a
process of its own. Prints records per second for both, and where the run's time goes: its
step cut at its own events (read and check until the Output, the Parquet write until the IO
manager is done, then the keys marked and the checks), the CPU seconds of this process and of
moto's during the run (and during the download), and parsing every line alone (one thread, files
already in memory) by the per-line path and by the step's (records.py's C pass first).

Run on moto as it is, and with each request held 20 ms (real S3's round trip; moto_process.py);
both also with moto answering plain GETs from its store directly (`--direct-gets`): moto's own
routing costs ~2 ms of CPU a GET, so on 2 cores moto is the bottleneck and takes the CPU the client
would have against real S3, which takes none of the client machine's.

Each is `--repeat` rounds of the download then the run; the ratio is the median of the rounds'.

    python bench/activedata_read.py [--files 1000] [--records 1000] [--latency-ms 0,20] [--direct-gets no,yes]
                                    [--repeat 3]
"""

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import dagster as dg
import psutil
from moto_process import moto_server

from ci_assets.defs.activedata.assets import BUCKET_ASSETS
from ci_assets.defs.activedata.automation import new_keys_sensor
from ci_assets.defs.activedata.records import read_columns, read_records
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
    parser.add_argument("--direct-gets", default="no,yes", help="moto's runs: plain GETs answered from its store")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for direct in args.direct_gets.split(","):
        for latency_ms in map(float, args.latency_ms.split(",")):
            measure(args.files, args.records, latency_ms, direct == "yes", args.repeat)


def measure(files_count: int, records_count: int, latency_ms: float, direct: bool, repeat: int) -> None:
    settings = ActiveDataSettings(buckets=[BUCKET])
    with (
        moto_server(latency_ms, direct) as endpoint,
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
            (request,) = new_keys_sensor()(context).run_requests
        day = dt.datetime.now(dt.UTC).date().isoformat()
        assert request.partition_key == day

        client = boto3.client("s3", endpoint_url=endpoint)
        moto = next(p for p in psutil.Process().children() if "ThreadedMotoServer" in " ".join(p.cmdline()))
        rounds = []
        for _ in range(repeat):  # alternately, so both see the machine in the same state
            own_cpu, moto_cpu = time.process_time(), sum(moto.cpu_times()[:2])
            t0 = time.perf_counter()
            with ThreadPoolExecutor(settings.download_threads) as pool:
                got = list(pool.map(lambda f: client.get_object(Bucket=BUCKET, Key=f[0])["Body"].read(), files))
            plain = time.perf_counter() - t0
            download_cpu = (time.process_time() - own_cpu, sum(moto.cpu_times()[:2]) - moto_cpu)
            assert sum(map(len, got)) == size
            rounds.append((plain, *run_day(resources, day, moto, files_count * records_count)))
        t0 = time.perf_counter()  # the store's own GETs, as the run's threads make them (s3_get.py)
        with ThreadPoolExecutor(settings.download_threads) as pool:
            list(pool.map(lambda f: store.get_bytes(BUCKET, f[0]), files))
        store_gets = time.perf_counter() - t0
        parse_alone = []
        for read in (read_records, read_columns):  # the per-line path, and the step's (C pass first)
            t0 = time.perf_counter()
            for body in got:
                read(body)
            parse_alone.append(time.perf_counter() - t0)

    where = "moto, plain GETs answered from its store" if direct else "moto"
    where += f", each request held {latency_ms:.0f} ms" if latency_ms else ""
    records = files_count * records_count
    print(f"one day of {BUCKET} on {where}: {files_count} files, {records:,} records, {size / 1e6:.0f} MB gzip")
    for n, (plain, ours, _, _) in enumerate(rounds, start=1):
        print(f"  round {n}: download {plain:5.2f} s, the asset's run {ours:5.2f} s = {ours / plain:.2f}x")
    plain, ours = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    threads = settings.download_threads
    print(f"  plain boto3 download ({threads} threads), median: {plain:6.2f} s  {records / plain:10,.0f} records/s")
    print(f"  the asset's run (read, check, store), median:   {ours:6.2f} s  {records / ours:10,.0f} records/s")
    print(f"  ratio (median of the rounds'): {ratio:.2f}x the download alone")
    print(f"  the store's own GETs alone (presigned URLs, urllib3), once: {store_gets:6.2f} s")
    _, ours, step, (own_cpu, moto_cpu) = rounds[-1]
    print("  where the last round's run goes:")
    for part, seconds in step.items():
        print(f"    {part:44s} {seconds:6.2f} s")
    print(f"    CPU during the run: this process {own_cpu:.2f} s, moto's {moto_cpu:.2f} s (2 cores: {2 * ours:.2f} s)")
    print(f"    CPU during the last download: this process {download_cpu[0]:.2f} s, moto's {download_cpu[1]:.2f} s")
    print(
        f"    parsing every line alone (one thread, in memory): per-line path {parse_alone[0]:.2f} s, "
        f"the step's (C pass, per-line path for the rest) {parse_alone[1]:.2f} s"
    )


def run_day(
    resources: dict, day: str, moto: psutil.Process, expected: int
) -> tuple[float, dict[str, float], tuple[float, float]]:
    """The asset's run of the day: its seconds, its step's parts, and the CPU (this process, moto) it took."""
    moto_cpu, own_cpu = sum(moto.cpu_times()[:2]), time.process_time()
    with dg.DagsterInstance.ephemeral() as instance:
        t0 = time.perf_counter()
        result = dg.materialize(
            [BUCKET_ASSETS[BUCKET]], partition_key=day, resources=resources, run_config=QUIET, instance=instance
        )
        seconds = time.perf_counter() - t0
        cpu = (time.process_time() - own_cpu, sum(moto.cpu_times()[:2]) - moto_cpu)
        meta = result.asset_materializations_for_node(BUCKET_ASSETS[BUCKET].node_def.name)[0].metadata
        assert result.success and meta["accepted"].value == expected and meta["rejected"].value == 0
        return seconds, step_times(instance, result.run_id), cpu


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
