"""Demo files in all eight ActiveData buckets of the local object store, for `make dev`."""

import datetime as dt
import random
from typing import Any

from ci_assets.defs.activedata.assets import BUCKET_ASSETS, BUGZILLA_ASSET, INVENTORY
from ci_assets.defs.activedata.buckets import bucket_names
from ci_assets.defs.activedata.samples import bucket_file, bugzilla_file, treeherder_snapshots
from ci_assets.lib.launch import DemoRun

FILES_PER_BUCKET = 12
TREEHERDER = "active-data-treeherder-normalized"
TREEHERDER_JOBS, BUGZILLA_SNAPSHOTS = ["activedata", "treeherder_jobs"], ["activedata", "bugzilla_snapshots"]


def seed_demo(resources: dict[str, Any]) -> str:
    """Idempotent: files already there are left as they are (no new ETag, nothing new to find)."""
    store = resources["object_store"]
    bugzilla = resources["activedata_settings"].bugzilla_bucket
    rng = random.Random(1623116)
    written = 0
    for bucket in bucket_names():
        store.create_bucket(bucket)
        if bucket == TREEHERDER:
            jobs = [rng.randint(250_000_000, 260_000_000) for _ in range(40)]
            # Three snapshots of the same jobs; the middle one's key sorts last, so arrival order
            # and snapshot order differ, as they do when the ETL catches up.
            files = [treeherder_snapshots(rng, batch, jobs, taken) for taken, batch in ((0, 11), (1, 13), (2, 12))]
        else:
            files = [
                bucket_file(bucket, rng, 1623116 + i // 4, 162311556 + i, rng.randint(0, 60), rng.randint(5, 40))
                for i in range(FILES_PER_BUCKET)
            ]
        for key, body in files:
            if store.head(bucket, key) is None:
                store.put(bucket, key, body)
                written += 1
    store.create_bucket(bugzilla)
    bugs = [rng.randint(1_500_000, 1_600_000) for _ in range(30)]
    statuses = ("NEW", "ASSIGNED", "RESOLVED")
    history = [(bug, 1_700_000_000 + 3600 * step, statuses[step]) for bug in bugs for step in range(3)]
    # The second file writes a few snapshots again, with corrected values: those replace the first's.
    corrected = [(bug, ts, "UNCONFIRMED") for bug, ts, status in history[:5] if status == "NEW"]
    for key, body in (bugzilla_file(1, history), bugzilla_file(2, corrected)):
        if store.head(bugzilla, key) is None:
            store.put(bugzilla, key, body)
            written += 1
    # The keys go into the inventory as the sensor would record them, so the demo run below (and
    # the sensor, once turned on) finds them; recording them again changes nothing.
    with resources["postgres"].connect() as conn:
        INVENTORY.ensure_schema(conn)
        for bucket in [*bucket_names(), bugzilla]:
            INVENTORY.record(conn, bucket, list(store.list(bucket)))
    return f"{written} new files in the {len(bucket_names())} ActiveData buckets and {bugzilla}"


def demo_runs(today: dt.date) -> list[DemoRun]:
    """The day the demo files arrived, for every bucket's asset."""
    assets = [a.key.path for a in [*BUCKET_ASSETS.values(), BUGZILLA_ASSET]]
    treeherder = BUCKET_ASSETS[TREEHERDER].key.path
    return [
        DemoRun("ActiveData's buckets, today", "activedata", assets=assets, partition=today.isoformat()),
        # The identity tables read every day of their bucket: once today's is stored.
        DemoRun("Treeherder's jobs", "activedata", assets=[TREEHERDER_JOBS], after=[treeherder]),
        DemoRun("Bugzilla's snapshots", "activedata", assets=[BUGZILLA_SNAPSHOTS], after=[BUGZILLA_ASSET.key.path]),
    ]
