"""What loading the code location costs a run's process on top of Dagster itself.

Each round is a fresh Python: `import dagster`, then `import ci_assets.definitions`, each timed
in the same script (target: the code location ≤ 1.0 s more than Dagster, median of the rounds).
Then one `-X importtime` run lists the packages that the code location's import pulls in beyond
Dagster's, by their own time.

    PYTHONPATH=. .venv/bin/python bench/import_time.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

PROBE = """
import time
t0 = time.perf_counter()
import dagster
t1 = time.perf_counter()
import ci_assets.definitions
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def timed_rounds(rounds: int) -> tuple[list[float], list[float]]:
    dagster, ours = [], []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
        first, second = (float(x) for x in out.split())
        dagster.append(first)
        ours.append(second)
    return dagster, ours


def packages_beyond_dagster() -> list[tuple[str, float]]:
    """(top-level package, ms of its own import time) for what `ci_assets.definitions` imports."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import dagster; import ci_assets.definitions"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = [line.split("|") for line in err.splitlines() if line.startswith("import time:") and "[us]" not in line]
    start = next(i for i, r in enumerate(rows) if r[2] == " dagster") + 1
    totals: dict[str, float] = {}
    for own, _cumulative, name in rows[start:]:
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(own.split(":")[1]) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    dagster, ours = timed_rounds(args.rounds)
    extra = statistics.median(ours)
    print(f"import dagster:                 median {statistics.median(dagster):.2f} s  (rounds: {args.rounds})")
    print(f"import ci_assets.definitions:   median +{extra:.2f} s more  (target ≤ +1.00 s)")
    print("\nwhat the code location imports beyond Dagster (own time, one -X importtime run):")
    for package, ms in packages_beyond_dagster()[:12]:
        print(f"  {ms:7.0f} ms  {package}")
    print("\n" + ("target met" if extra <= 1.0 else "TARGET MISSED"))


if __name__ == "__main__":
    main()
