"""Local Parquet IO manager vs plain polars: store and load a 10M-row, 30-partition frame.

Baseline: `write_parquet` of each day's rows to its own file, then `read_parquet` of
the 30 files and a concat — the least any partitioned store must do. The IO manager
gets the whole frame as a single-run backfill hands it over (so it also splits it),
replaces each file atomically (temp file, fsync, rename) and reads the range back.
Target: IO manager time <= 1.2x the baseline. Prints the figures; exits 0 either way.

    python bench/parquet_io_manager.py [--rows 10000000] [--repeat 3]
"""

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager

DAYS = 30
PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
KEYS = PARTITIONS.get_partition_keys()[:DAYS]
METADATA = {"partition_expr": "submission_date"}


def make_frame(rows: int) -> pl.DataFrame:
    """A task-runs-like frame: dates, ids, a low-cardinality string, numbers, timestamps."""
    rng = np.random.default_rng(0)
    day = np.sort(rng.integers(0, DAYS, rows))
    start = dt.datetime(2024, 1, 1)
    epoch_day = (start.date() - dt.date(1970, 1, 1)).days
    return pl.DataFrame(
        {
            "submission_date": pl.Series(day + epoch_day, dtype=pl.Int32).cast(pl.Date),
            "run_id": rng.integers(0, 5, rows),
            "worker_group": pl.Series(rng.integers(0, 50, rows)).cast(pl.String).str.pad_start(8, "w"),
            "state": pl.Series(rng.choice(["completed", "failed", "exception"], rows)),
            "duration_s": rng.exponential(600.0, rows),
            "scheduled": pl.Series(rng.integers(0, 86_400_000_000, rows)).cast(pl.Duration("us")) + start,
        }
    )


def baseline(frames: dict[str, pl.DataFrame], root: Path) -> float:
    t0 = time.perf_counter()
    for key, frame in frames.items():
        directory = root / f"submission_date={key}"
        directory.mkdir(parents=True)
        frame.write_parquet(directory / "data.parquet")
    loaded = pl.concat([pl.read_parquet(root / f"submission_date={k}" / "data.parquet") for k in frames])
    elapsed = time.perf_counter() - t0
    assert loaded.height == sum(f.height for f in frames.values())
    return elapsed


def io_manager(frame: pl.DataFrame, root: Path, fsync: bool, threads: int = 4) -> float:
    manager = ParquetIOManager(
        store=LocalObjectStoreResource(root=str(root), fsync=fsync), bucket="lake", write_threads=threads
    )
    key_range = dg.PartitionKeyRange(KEYS[0], KEYS[-1])
    t0 = time.perf_counter()
    out = dg.build_output_context(
        asset_key="bench",
        asset_partitions_def=PARTITIONS,
        asset_partition_key_range=key_range,
        definition_metadata=METADATA,
    )
    manager.handle_output(out, frame)
    upstream = dg.build_output_context(asset_key="bench", definition_metadata=METADATA)
    inp = dg.build_input_context(
        asset_key="bench",
        upstream_output=upstream,
        asset_partitions_def=PARTITIONS,
        asset_partition_key_range=key_range,
        dagster_type=dg.PythonObjectDagsterType(pl.DataFrame),
    )
    loaded = manager.load_input(inp)
    elapsed = time.perf_counter() - t0
    assert loaded.height == frame.height
    return elapsed


def measure(label: str, fn: Callable[[Path], float], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        root = Path(tempfile.mkdtemp(prefix="bench-", dir=Path.cwd() / ".ci_assets"))
        try:
            times.append(fn(root))
        finally:
            shutil.rmtree(root)
    best, median = min(times), statistics.median(times)
    print(f"  {label:<44} best {best:6.2f} s   median {median:6.2f} s")
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    (Path.cwd() / ".ci_assets").mkdir(exist_ok=True)
    frame = make_frame(args.rows)
    frames = {str(k[0]): f for k, f in frame.partition_by("submission_date", as_dict=True).items()}
    assert len(frames) == DAYS
    print(f"store + load {frame.height:,} rows in {DAYS} daily partitions ({frame.estimated_size('mb'):.0f} MB)")
    base = measure("plain polars write/read, pre-split", lambda r: baseline(frames, r), args.repeat)
    ours = measure("LocalParquetIOManager (split, fsync, rename)", lambda r: io_manager(frame, r, True), args.repeat)
    nosync = measure("LocalParquetIOManager without fsync", lambda r: io_manager(frame, r, False), args.repeat)
    single = measure("  ... one writer thread", lambda r: io_manager(frame, r, True, threads=1), args.repeat)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    mixed = measure("  ... rows not grouped by day (shuffled)", lambda r: io_manager(shuffled, r, True), args.repeat)
    print(
        f"ratio to plain (median): {ours / base:.2f}x with fsync (target <= 1.2x); {nosync / base:.2f}x "
        f"without fsync; {single / base:.2f}x with one writer thread; {mixed / base:.2f}x on a shuffled frame"
    )


if __name__ == "__main__":
    main()
