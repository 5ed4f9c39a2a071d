"""The eight destination buckets, read from the conventions' reference copy (never retyped)."""

import functools
import re
from pathlib import Path

REFERENCE = Path(__file__).parent / "reference" / "conventions.md"
PREFIX = "active-data-"
# What each bucket holds (seed 000), for the UI; keyed by the part after "active-data-".
CONTENTS = {
    "firefox-files": "Firefox source files touched by tasks",
    "fx-test-normalized": "normalized Firefox test runs",
    "treeherder-normalized": "Treeherder job snapshots, taken while jobs evolve (identity: job.id, newest wins)",
    "test-result": "unit test results, one record per test run in a task",
    "perf": "performance (Perfherder) results",
    "jobs": "CI jobs",
    "codecoverage": "code coverage records",
    "task-cluster-normalized": "normalized Taskcluster tasks",
}


@functools.cache
def bucket_names() -> tuple[str, ...]:
    """The buckets of the reference's "Buckets" section, in its order."""
    section = REFERENCE.read_text().split("## Buckets", 1)[1].split("\n## ", 1)[0]
    return tuple(dict.fromkeys(re.findall(rf"{PREFIX}[a-z0-9-]*[a-z0-9]", section)))


def short_name(bucket: str) -> str:
    """`active-data-test-result` -> `test_result` (the asset's name)."""
    return bucket.removeprefix(PREFIX).replace("-", "_")
