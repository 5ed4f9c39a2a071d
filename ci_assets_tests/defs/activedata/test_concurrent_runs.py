"""Two runs of one ActiveData day at once: the second waits for the first, then stores every file."""

import datetime as dt
import threading
import time
from pathlib import Path

import polars as pl
import psycopg
import pytest

from ci_assets.defs.activedata import assets
from ci_assets_tests.defs.activedata.conftest import local_world, tick
from ci_assets_tests.defs.activedata.test_crash import BUCKET, FIRST, SECOND, _file, materialize_day


def test_an_older_run_of_a_day_never_stores_its_key_set_over_a_newer_ones(
    fresh_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run A has read the day's keys ({FIRST}) and stands still; SECOND arrives and run B starts. Were
    B to store {FIRST, SECOND} and mark SECOND ingested before A stored {FIRST}, SECOND's records
    would be gone with nothing left to run them again. B must wait for A, then read both files."""
    resources = local_world(tmp_path, fresh_postgres, BUCKET)
    store = resources["object_store"]
    day = dt.datetime.now(dt.UTC).date().isoformat()
    store.put(BUCKET, FIRST, _file(FIRST, 30))
    tick(resources)

    a_has_read, a_may_go = threading.Event(), threading.Event()
    original = assets.read_day_files

    def read(*args: object) -> object:  # the day's keys are read; its files are about to be downloaded
        if not a_has_read.is_set():
            a_has_read.set()
            assert a_may_go.wait(60)
        return original(*args)

    monkeypatch.setattr(assets, "read_day_files", read)
    runs = [threading.Thread(target=materialize_day, args=(tmp_path, fresh_postgres, day))]
    runs[0].start()
    try:
        assert a_has_read.wait(60)
        store.put(BUCKET, SECOND, _file(SECOND, 20))
        tick(resources)
        runs.append(threading.Thread(target=materialize_day, args=(tmp_path, fresh_postgres, day)))
        runs[1].start()
        with psycopg.connect(fresh_postgres) as conn:  # B waits on the day, not A on B
            waiting = 0
            for _ in range(100):
                waiting = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                waiting = waiting.fetchone()[0]
                if waiting:
                    break
                time.sleep(0.1)
        assert waiting == 1, "the second run of the day did not wait for the first"
    finally:
        a_may_go.set()
        for run in runs:
            run.join(60)
    [partition] = (tmp_path / "lake").rglob(f"arrival_day={day}/data.parquet")
    assert pl.read_parquet(partition).height == 50  # both files, each record once
