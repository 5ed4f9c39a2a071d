"""Demo data for the local default: a few thousand buildhub.json files over the last week."""

import datetime as dt
import os
import random
from typing import Any

from ci_assets.defs.buildhub.samples import INVALID_DOCUMENTS, encode, key_for, make_document
from ci_assets.lib.launch import DemoRun

DOCUMENTS = 3000
DAYS = 7


def seed_demo(resources: dict[str, Any]) -> str:
    """Idempotent: the same files with the same contents and times, so a second `make dev`
    changes no ETag and the sensor finds nothing new."""
    store = resources["object_store"]
    bucket = resources["buildhub_settings"].bucket
    store.create_bucket(bucket)
    rng = random.Random(2018)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    files = [(key_for(d), encode(d)) for d in (make_document(rng) for _ in range(DOCUMENTS))]
    files += [(f"pub/firefox/broken/{name}/buildhub.json", body) for name, body in INVALID_DOCUMENTS.items()]
    files += [(f"pub/firefox/releases/{i}/SHA256SUMS", b"not a buildhub.json") for i in range(20)]
    written = 0
    for i, (key, body) in enumerate(files):
        if store.head(bucket, key) is not None:
            continue
        store.put(bucket, key, body)
        # Spread the uploads over the last week, so each day is a partition with data.
        uploaded = (today - dt.timedelta(days=i % DAYS, seconds=rng.randint(0, 80_000))).timestamp()
        path = store.local_path(bucket, key)
        assert path is not None
        os.utime(path, (uploaded, uploaded))
        written += 1
    return f"{written} new files in bucket {bucket} ({len(files)} in all, {len(INVALID_DOCUMENTS)} invalid)"


def demo_runs(today: dt.date) -> list[DemoRun]:
    """`buildhub_new_keys` is on from the start and ingests the demo week by itself; once builds are
    stored, the warehouse table (08:00 otherwise) and the newest build's own partition."""
    builds, build = ["buildhub", "builds"], ["buildhub", "build"]
    return [
        DemoRun("the builds table", "buildhub", assets=[["buildhub", "builds_table"]], after=[builds]),
        DemoRun("the newest build", "buildhub", assets=[build], after=[builds], partition_of=build),
    ]
