"""worker_costs_v1 over 1,000,000 GCP billing rows, locally (DuckDB over the lake): time and peak memory.

The billing rows (a day's worth, spread over both worker projects and others, with
credits) are written as Parquet first; the query then runs in a child process, so
its peak memory is the query's alone.

    python bench/fxci_worker_costs.py [--rows 1000000]
"""

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from ci_assets.defs.fxci.worker_costs import BILLING_SOURCES

DAY = dt.date(2024, 5, 1)
PROJECTS = ["fxci-production-level1-workers", "fxci-production-level3-workers", "moz-fx-other"]

CHILD = """
import datetime as dt, sys, time, resource
from ci_assets.defs.fxci.worker_costs import worker_costs_query
from ci_assets.lib.storage.sql import DuckDBSqlRunner
t0 = time.perf_counter()
frame = DuckDBSqlRunner(warehouse_dir=sys.argv[1]).query(worker_costs_query(), {"submission_date": dt.date(2024, 5, 1)})
print(f"{time.perf_counter() - t0:.3f} {frame.height} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
"""


def gcp_rows(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    project = rng.choice(PROJECTS, n)
    instance = rng.integers(0, 20_000, n).astype(str)
    kind = np.where(rng.random(n) < 0.8, "instances", "disks")
    zone = rng.choice(["us-central1-b", "us-west1-a", "us-east1-d"], n)
    start = dt.datetime.combine(DAY, dt.time(), dt.UTC)
    return pl.DataFrame(
        {
            "project": pl.DataFrame({"id": project}).to_struct(),
            "resource": pl.DataFrame(
                {
                    "name": pl.Series("n", ["projects/p/"] * n) + pl.Series(kind) + "/worker-" + pl.Series(instance),
                    "global_name": "//compute.googleapis.com/projects/p/zones/"
                    + pl.Series(zone)
                    + "/"
                    + pl.Series(kind)
                    + "/"
                    + pl.Series(instance),
                }
            ).to_struct(),
            "usage_start_time": pl.Series(rng.integers(0, 86_400_000_000, n)).cast(pl.Duration("us")) + start,
            "cost": rng.exponential(0.05, n),
            "credits": pl.Series(
                [[{"name": "SUD", "amount": -0.01}]] * n,
                dtype=pl.List(pl.Struct({"name": pl.String, "amount": pl.Float64})),
            ),
        }
    )


def empty_azure(warehouse: Path) -> None:
    load = pl.DataFrame(
        schema={
            "sourceDataId": pl.String,
            "date": pl.Date,
            "ResourceId": pl.String,
            "resourceLocation": pl.String,
            "costInBillingCurrency": pl.Float64,
            "chargeType": pl.String,
        }
    )
    lookup = pl.DataFrame(schema={"sourceDataId": pl.String, "subscriptionName": pl.String})
    for name, frame in (
        ("azure_fxci_load", load),
        ("azure_fxci_lookup", lookup),
        ("azure_taskcluster_load", load),
        ("azure_taskcluster_lookup", lookup),
    ):
        write(warehouse, name, frame)


def write(warehouse: Path, name: str, frame: pl.DataFrame) -> None:
    path = warehouse.joinpath(*BILLING_SOURCES[name].split("."))
    path.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path / "data.parquet")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-costs-") as tmp:
        warehouse = Path(tmp)
        write(warehouse, "gcp_billing", gcp_rows(args.rows))
        empty_azure(warehouse)
        size = sum(f.stat().st_size for f in warehouse.rglob("*.parquet")) / 1e6
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(warehouse)], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
    query_s, rows, peak_kb = out.stdout.split()
    print(f"worker_costs_v1 over {args.rows:,} GCP billing rows ({size:.0f} MB of Parquet), DuckDB over the local lake")
    print(f"  query: {float(query_s):.2f} s ({wall:.2f} s with the process start); {int(rows):,} instance rows")
    print(f"  peak memory of the query's process: {int(peak_kb) / 1024:.0f} MB")


if __name__ == "__main__":
    main()
