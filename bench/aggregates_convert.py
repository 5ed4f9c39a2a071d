"""One generated day of aggregates (>= 1.8 GB of COPY text, >= 100 tables): dump -> Parquet.

The day is generated once in a real PostgreSQL on 127.0.0.1 and dumped with the real
pg_dump (both kept between runs). Two floors, in the same script, over the same files split
evenly by size over as many processes as the converter has worker threads (3) and over two
(the cores here), the faster of each kept:
- `gzip -dc` to /dev/null (what "just decompressing the day" costs from a shell);
- ISA-L (the `isal` inflater the converter uses) in Python processes, each timing its own
  inflating without interpreter start-up: the true floor of reading the day.
The converter runs in a fresh process per repetition (without Dagster, as its modules
import); its conversion time excludes interpreter start-up, its peak RSS includes
everything. The breakdown runs the converter's own stages cumulatively on the same worker
threads (inflate -> + COPY parse -> + dimensions and aggregate -> + contract), each in a
fresh process; what the full conversion adds to the last is the Parquet write.
Targets: <= 4x the ISA-L floor (so faster than `gzip -dc`), peak RSS <= 512 MB, rows ==
the files' COPY rows.

    python bench/aggregates_convert.py [--tables 108] [--rows 61000] [--repeat 3] [--workers 3]
                                       [--compression uncompressed|lz4|zstd|snappy]
"""

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
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
result = convert(plan, dt.date(2019, 12, 1), out, workers=int(sys.argv[3]), compression=sys.argv[4])
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rows": result.rows, "bytes": out.stat().st_size,
                  "copy_rows": result.copy_rows, "bad": result.bad_rows,
                  "tables": len(result.tables), "rss_mb": rss}))
"""


ISAL_CHILD = """
import sys, time
from isal import igzip_lib
t0 = time.perf_counter()
for name in sys.argv[1:]:
    data = open(name, "rb").read()
    while data:
        inflater = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
        inflater.decompress(data, 8 << 20)
        while not inflater.eof:
            inflater.decompress(b"", 8 << 20)
        data = inflater.unused_data
print(time.perf_counter() - t0)
"""

STAGES = ("inflate", "parse COPY into Arrow (C)", "contract")
STAGE_CHILD = """
import datetime as dt, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from ci_assets.defs.aggregates import rows
from ci_assets.defs.aggregates.contracts import AGGREGATE_IS_AN_INTEGER_ARRAY, CONTRACT
from ci_assets.defs.aggregates.copy_text import line_chunks
from ci_assets.defs.aggregates.dump_plan import plan_dump
from ci_assets.lib import contracts
from ci_assets.lib.freed_memory import keep_freed_memory
directory, stage, workers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
day = dt.date(2019, 12, 1)
plan = plan_dump(directory, "submission_date", day)
keep_freed_memory()
def one_file(data_file):
    for chunk in line_chunks(data_file.path):
        if stage >= 1:
            table, _ = rows.parse_chunk(chunk, data_file.table, day, 1, printed_by_postgres=True)
            if stage == 2:
                contracts.sieve(CONTRACT, rows.as_frame(table), [day], [AGGREGATE_IS_AN_INTEGER_ARRAY])
t0 = time.perf_counter()
with ThreadPoolExecutor(workers) as pool:
    list(pool.map(one_file, sorted(plan.files, key=lambda f: -f.path.stat().st_size)))
print(time.perf_counter() - t0)
"""


def database_exists() -> bool:
    with psycopg.connect(ADMIN) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DSN.rsplit("/", 1)[1],)).fetchone())


def ensure_day(tables: int, rows: int) -> Path:
    directory = CACHE / f"{tables}x{rows}"
    if (directory / "toc.dat").exists() and database_exists():
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


def dump_seconds() -> float:
    """pg_dump of the day again (what the day's dump asset costs before any conversion)."""
    binary = pg_dump.choose(pg_dump.server_major(DSN))
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        pg_dump.dump(binary, DSN, [dump_pattern("submission_date", DAY)], Path(scratch) / "dump")
        return time.perf_counter() - t0


def split_by_size(files: list[Path], processes: int) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(processes)]
    sizes = [0] * processes
    for path in sorted(files, key=lambda p: -p.stat().st_size):
        i = sizes.index(min(sizes))
        groups[i].append(str(path))
        sizes[i] += path.stat().st_size
    return groups


def gzip_floor_seconds(files: list[Path], processes: int) -> float:
    t0 = time.perf_counter()
    shell = 'for f; do gzip -dc "$f"; done > /dev/null'
    procs = [subprocess.Popen(["sh", "-c", shell, "sh", *g]) for g in split_by_size(files, processes)]
    for p in procs:
        assert p.wait() == 0
    return time.perf_counter() - t0


def isal_floor_seconds(files: list[Path], processes: int) -> float:
    """The slowest process's own inflating time: the processes run side by side."""
    groups = split_by_size(files, processes)
    procs = [
        subprocess.Popen([sys.executable, "-c", ISAL_CHILD, *g], stdout=subprocess.PIPE, text=True) for g in groups
    ]
    return max(float(p.communicate()[0]) for p in procs)


def stage_seconds(directory: Path, stage: int, workers: int) -> float:
    command = [sys.executable, "-c", STAGE_CHILD, str(directory), str(stage), str(workers)]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=108)
    parser.add_argument("--rows", type=int, default=61_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--compression", default="uncompressed", help="the Parquet codec (the asset writes uncompressed)"
    )
    args = parser.parse_args()
    directory = ensure_day(args.tables, args.rows)
    files = sorted(directory.glob("*.dat.gz"))
    copy_rows, copy_bytes = copy_rows_and_bytes(files)
    dumped = dump_seconds()
    compressed = sum(p.stat().st_size for p in files)

    floors: dict[int, list[float]] = {2: [], args.workers: []}
    isal: dict[int, list[float]] = {2: [], args.workers: []}
    stages: list[list[float]] = [[] for _ in STAGES]
    runs = []
    out = CACHE / "out.parquet"
    command = [sys.executable, "-c", CHILD, str(directory), str(out), str(args.workers), args.compression]
    for _ in range(args.repeat):
        for processes in floors:
            floors[processes].append(gzip_floor_seconds(files, processes))
            isal[processes].append(isal_floor_seconds(files, processes))
        for stage, seconds in enumerate(stages):
            seconds.append(stage_seconds(directory, stage, args.workers))
        child = subprocess.run(command, capture_output=True, text=True)
        if child.returncode != 0:
            raise SystemExit(child.stderr)
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    by_processes = {p: statistics.median(f) for p, f in floors.items()}
    floor = min(by_processes.values())  # the faster floor: the stricter comparison
    isal_by_processes = {p: statistics.median(f) for p, f in isal.items()}
    isal_floor = min(isal_by_processes.values())
    seconds = statistics.median(r["seconds"] for r in runs)
    rss = max(r["rss_mb"] for r in runs)
    rows = runs[0]["rows"]
    print(f"one day: {len(files)} tables, {copy_rows:,} COPY rows, {compressed / 1e6:.0f} MB gzip, "
          f"{copy_bytes / 1e9:.2f} GB COPY text")  # fmt: skip
    for processes, median in by_processes.items():
        print(f"  floor, gzip -dc on {processes} processes:   {median:6.2f} s  (median of {args.repeat})")
    for processes, median in isal_by_processes.items():
        print(f"  floor, ISA-L on {processes} processes:     {median:6.2f} s  (median of {args.repeat})")
    print(f"  converter ({args.workers} worker threads):   {seconds:6.2f} s  = {seconds / isal_floor:.2f}x the ISA-L "
          f"floor (target <= 4x), {seconds / floor:.2f}x gzip -dc")  # fmt: skip
    print(f"  where its time goes (its stages cumulatively on {args.workers} threads, medians):")
    before = 0.0
    for name, values in [*zip(STAGES, stages, strict=True), ("Parquet write", [r["seconds"] for r in runs])]:
        total = statistics.median(values)
        print(f"    + {name:24s} {total - before:+6.2f} s  (cumulative {total:5.2f} s)")
        before = total
    print(f"  pg_dump of the day (the dump asset's work, once): {dumped:6.2f} s")
    print(f"  Parquet written ({args.compression}):     {runs[0]['bytes'] / 1e6:6.0f} MB")
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
