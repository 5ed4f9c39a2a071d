"""One generated day of aggregates (>= 1.8 GB of COPY text, >= 100 tables): dump -> Parquet.

The day is generated once in a real PostgreSQL on 127.0.0.1 and dumped with the real
pg_dump (both kept between runs). The floor, in the same script: `gzip -dc` of the same
files to /dev/null, split evenly by size over as many processes as the converter has
worker threads (3) and over two (the cores here); the faster floor is the one compared
against. The converter runs in a fresh process per repetition (without Dagster, as its
modules import); its conversion time excludes interpreter start-up, its peak RSS
includes everything.
Targets: <= 1.5x the floor, peak RSS <= 512 MB, rows == the files' COPY rows.

    python bench/aggregates_convert.py [--tables 108] [--rows 61000] [--repeat 3] [--workers 3]
"""

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

import psycopg

from ci_assets.defs.aggregates import generate, pg_dump
from ci_assets.defs.aggregates.names import dump_pattern

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DSN = "postgresql://postgres@127.0.0.1:5432/ci_assets_bench_aggregates_day"
DAY = dt.date(2019, 12, 1)
CACHE = Path(__file__).resolve().parent / ".cache" / "aggregates_day"
# facts.md, same kind of day (108 tables, 1.80 GB COPY text) on a 2-core machine.
PYSPARK_SECONDS, FACTS_FLOOR_SECONDS = 117.6, 5.2

CHILD = """
import datetime as dt, json, resource, sys, time
from pathlib import Path
from ci_assets.defs.aggregates.convert import convert
from ci_assets.defs.aggregates.dump_plan import plan_dump
directory, out = Path(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter()
plan = plan_dump(directory, "submission_date", dt.date(2019, 12, 1))
result = convert(plan, dt.date(2019, 12, 1), out, workers=int(sys.argv[3]))
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rows": result.rows, "copy_rows": result.copy_rows, "bad": result.bad_rows,
                  "tables": len(result.tables), "rss_mb": rss}))
"""


def ensure_day(tables: int, rows: int) -> Path:
    directory = CACHE / f"{tables}x{rows}"
    if (directory / "toc.dat").exists():
        return directory
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ci_assets_bench_aggregates_day WITH (FORCE)")
        conn.execute("CREATE DATABASE ci_assets_bench_aggregates_day")
    print(f"generating {tables} tables x ~{rows} rows in {DSN} ...", flush=True)
    generate.create_day(DSN, DAY, "submission_date", tables, rows, seed=11, max_buckets=90)
    shutil.rmtree(directory, ignore_errors=True)
    directory.parent.mkdir(parents=True, exist_ok=True)
    binary = pg_dump.choose(pg_dump.server_major(DSN))
    pg_dump.dump(binary, DSN, [dump_pattern("submission_date", DAY)], directory)
    return directory


def copy_rows_and_bytes(files: list[Path]) -> tuple[int, int]:
    """Counted with zlib, not the converter's reader: lines minus each file's end-of-data line."""
    rows = size = 0
    for path in files:
        data = zlib.decompress(path.read_bytes(), 31)
        size += len(data)
        rows += data.rstrip(b"\n").count(b"\n")  # n rows + the `\.` line have n newlines between them
    return rows, size


def floor_seconds(files: list[Path], processes: int) -> float:
    groups: list[list[str]] = [[] for _ in range(processes)]
    sizes = [0] * processes
    for path in sorted(files, key=lambda p: -p.stat().st_size):
        i = sizes.index(min(sizes))
        groups[i].append(str(path))
        sizes[i] += path.stat().st_size
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["sh", "-c", 'for f; do gzip -dc "$f"; done > /dev/null', "sh", *g]) for g in groups]
    for p in procs:
        assert p.wait() == 0
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=108)
    parser.add_argument("--rows", type=int, default=61_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    directory = ensure_day(args.tables, args.rows)
    files = sorted(directory.glob("*.dat.gz"))
    copy_rows, copy_bytes = copy_rows_and_bytes(files)
    compressed = sum(p.stat().st_size for p in files)

    floors: dict[int, list[float]] = {2: [], args.workers: []}
    runs = []
    out = CACHE / "out.parquet"
    command = [sys.executable, "-c", CHILD, str(directory), str(out), str(args.workers)]
    for _ in range(args.repeat):
        for processes in floors:
            floors[processes].append(floor_seconds(files, processes))
        child = subprocess.run(command, capture_output=True, text=True)
        if child.returncode != 0:
            raise SystemExit(child.stderr)
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    by_processes = {p: statistics.median(f) for p, f in floors.items()}
    floor = min(by_processes.values())  # the faster floor: the stricter comparison
    seconds = statistics.median(r["seconds"] for r in runs)
    rss = max(r["rss_mb"] for r in runs)
    rows = runs[0]["rows"]
    print(f"one day: {len(files)} tables, {copy_rows:,} COPY rows, {compressed / 1e6:.0f} MB gzip, "
          f"{copy_bytes / 1e9:.2f} GB COPY text")  # fmt: skip
    for processes, median in by_processes.items():
        print(f"  floor, gzip -dc on {processes} processes:   {median:6.2f} s  (median of {args.repeat})")
    print(f"  converter ({args.workers} worker threads):   {seconds:6.2f} s  = {seconds / floor:.2f}x the faster floor "
          "(target <= 1.5x)")  # fmt: skip
    print(f"  converter peak RSS:               {rss:6.0f} MB  (target <= 512 MB)")
    print(f"  rows written {rows:,} + quarantined {runs[0]['bad']} vs COPY rows {copy_rows:,}: "
          f"{'equal' if rows + runs[0]['bad'] == copy_rows and not runs[0]['bad'] else 'DIFFERENT'}")  # fmt: skip
    pyspark_ratio = PYSPARK_SECONDS / FACTS_FLOOR_SECONDS
    spark_here = pyspark_ratio * floor
    print(f"  PySpark (facts.md, same kind of day): {pyspark_ratio:.1f}x its floor; at this floor {spark_here:.0f} s, "
          f"{spark_here / seconds:.0f}x this converter's time")  # fmt: skip
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
