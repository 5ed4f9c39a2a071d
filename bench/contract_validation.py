"""What a data contract costs the write it guards, in one script (issue 14).

1. One aggregates day (the benchmark day of aggregates_convert.py: 108 tables, 5.7 M rows):
   the day converted and stored in the lake (the Parquet asset's step without Dagster), against
   the same with the contract: each converted chunk screened on its way to the file, and the
   asset type's check of the file's columns and types. Each repetition runs in a fresh process; peak RSS is reported
   (the contract must not hold the day in memory).
2. 100,000 pulse messages' rows (tasks_v2 + task_runs_v1): stored through the warehouse writer
   (local Parquet lake) after the key's deduplication, against the same with the contract
   enforced (pandera: types, REQUIRED, key, value rules) and the asset type's check.
Target: the contract adds <= 10 % to each write.

    python bench/contract_validation.py [--messages 100000] [--repeat 3] [--skip-aggregates] [--skip-pulse]
"""

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from ci_assets.defs.fxci import schemas
from ci_assets.defs.fxci.assets import TASK_RUNS, TASKS
from ci_assets.defs.fxci.contracts import CONTRACTS, PARTITION_COLUMNS, PRIMARY_KEYS
from ci_assets.defs.fxci.pulse_rows import Rows, rows_for
from ci_assets.defs.fxci.samples import message
from ci_assets.lib import contract_type, contracts
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetWriter
from ci_assets.lib.storage.target import Target

sys.path.insert(0, str(Path(__file__).parent))
from aggregates_convert import ensure_day

CHILD = """
import datetime as dt, json, resource, sys, tempfile, time
from pathlib import Path
import dagster as dg
from ci_assets.defs.aggregates.contracts import CONTRACT
from ci_assets.defs.aggregates.convert import convert
from ci_assets.defs.aggregates.dump_plan import plan_dump
from ci_assets.defs.aggregates.parquet_asset import PARQUET_KEY
from ci_assets.defs.aggregates.partitions import PARTITIONS
from ci_assets.lib import contract_type
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetWriter
from ci_assets.lib.storage.streamed import ParquetFile
from ci_assets.lib.storage.target import Target
directory, scratch, enforced = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
day, key = dt.date(2019, 12, 1), "2019-12-01|submission_date"
writer = ParquetWriter(store=LocalObjectStoreResource(root=str(scratch / "objects")), bucket="lake", prefix="lake")
target = Target(PARQUET_KEY, {"partition_expr": {"day": "ingest_date", "type": "aggregate_type"}}, PARTITIONS, [key])
t0 = time.perf_counter()
out = scratch / "day.parquet"
plan = plan_dump(directory, "submission_date", day)
result = convert(plan, day, out, workers=3, contract=CONTRACT if enforced else None)
converted = time.perf_counter() - t0
if enforced:
    assert contract_type.dagster_type(CONTRACT).type_check(None, {key: ParquetFile(str(out))}).success
checked = time.perf_counter() - t0
writer.write(target, {key: ParquetFile(str(out))})
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "type_check": checked - converted, "rows": result.rows,
                  "broken": result.broken.height,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def aggregates_day(repeat: int) -> None:
    directory = ensure_day(108, 61_000)
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(repeat):
        for enforced in (False, True):  # interleaved: the page cache and the machine's load treat both alike
            with tempfile.TemporaryDirectory(dir=directory.parent) as scratch:
                child = subprocess.run(
                    [sys.executable, "-c", CHILD, str(directory), scratch, "1" if enforced else "0"],
                    capture_output=True,
                    text=True,
                )
            if child.returncode != 0:
                raise SystemExit(child.stderr)
            runs[enforced].append(json.loads(child.stdout.strip().splitlines()[-1]))
    without = statistics.median(r["seconds"] for r in runs[False])
    with_contract = statistics.median(r["seconds"] for r in runs[True])
    type_check = statistics.median(r["type_check"] for r in runs[True])
    rows = runs[True][0]["rows"]
    print(f"aggregates day ({rows:,} rows), convert + store, median of {repeat}:")
    print(f"  without the contract: {without:7.2f} s   peak RSS {max(r['rss_mb'] for r in runs[False]):5.0f} MB")
    print(f"  with the contract:    {with_contract:7.2f} s   peak RSS {max(r['rss_mb'] for r in runs[True]):5.0f} MB")
    print(f"  the type check (the file's columns and types): {type_check:.2f} s; set aside: {runs[True][0]['broken']}")
    print(f"  overhead: {100 * (with_contract / without - 1):+.1f} %  (target <= +10 %)")


def pulse_rows(messages: int) -> dict[str, list[dict]]:
    rng, day = random.Random(7), dt.date(2026, 11, 30)
    now = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
    rows: dict[str, list[dict]] = {"tasks_v2": [], "task_runs_v1": []}
    for i in range(messages):
        exchange = ("task-completed", "task-failed", "task-exception")[i % 3]
        outcome = rows_for(json.dumps(message(rng, exchange, now - dt.timedelta(seconds=i))).encode(), day)
        if isinstance(outcome, Rows):
            rows["task_runs_v1"].append(outcome.run)
            if outcome.task is not None:
                rows["tasks_v2"].append(outcome.task)
    return rows


def store_pulse(rows: dict[str, list[dict]], enforced: bool, lake: str) -> tuple[float, float]:
    """(the whole write, the contract's part of it)."""
    writer = ParquetWriter(store=LocalObjectStoreResource(root=lake), bucket="lake", prefix="warehouse")
    t0, contract = time.perf_counter(), 0.0
    for spec in (TASKS, TASK_RUNS):
        table = spec.key.path[-1]
        frame = pl.DataFrame(rows[table], schema=schemas.polars_schema(table))
        frame = frame.unique(subset=[*PRIMARY_KEYS[table], PARTITION_COLUMNS[table]], keep="last", maintain_order=True)
        if enforced:
            started = time.perf_counter()
            frame, violations = contracts.enforce(CONTRACTS[table], frame)
            assert not violations
            assert contract_type.dagster_type(CONTRACTS[table]).type_check(None, frame).success
            contract += time.perf_counter() - started
        writer.write(Target.of_spec(spec, ["2026-11-30"]), frame)
    return time.perf_counter() - t0, contract


def pulse(messages: int, repeat: int) -> None:
    rows = pulse_rows(messages)
    counts = {table: len(r) for table, r in rows.items()}
    with tempfile.TemporaryDirectory() as lake:
        store_pulse(rows, True, lake)  # the first use imports pandera (once a process): not the write's cost
        times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(repeat):
            for enforced in (False, True):
                times[enforced].append(store_pulse(rows, enforced, lake))
    without, with_contract = (statistics.median(t for t, _ in times[e]) for e in (False, True))
    contract = statistics.median(c for _, c in times[True])
    print(f"pulse rows from {messages:,} messages ({counts}), stored, median of {repeat}:")
    print(f"  without the contract: {without:7.3f} s")
    print(f"  with the contract:    {with_contract:7.3f} s   (of which enforce + type check {contract:.3f} s)")
    print(f"  overhead: {100 * (with_contract / without - 1):+.1f} %  (target <= +10 %)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-aggregates", action="store_true")
    parser.add_argument("--skip-pulse", action="store_true")
    args = parser.parse_args()
    if not args.skip_pulse:
        pulse(args.messages, args.repeat)
    if not args.skip_aggregates:
        aggregates_day(args.repeat)


if __name__ == "__main__":
    main()
