"""The migration job while records keep arriving: a reader resolving through sources.json never
sees a gap or a duplicate, and nothing repoints unless the new location is the old one."""

import gzip
import json
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from ci_assets.defs.sources import migration, routing
from ci_assets.defs.sources.migration_job import sources_migration
from ci_assets.defs.sources.reader import Dataset
from ci_assets.defs.sources.registry import SOURCES_JSON, parse_sources
from ci_assets.defs.sources.settings import RegistrySettings
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, ObjectStoreResource

META, DATA, SOURCE = "pipeline-metadata-test", "ci-assets-records", "test-records"


def _file(ids: list[str]) -> bytes:
    return gzip.compress("".join(json.dumps({"_id": i, "value": 1}) + "\n" for i in ids).encode())


@pytest.fixture
def store(tmp_path: Path) -> ObjectStoreResource:
    store = LocalObjectStoreResource(root=str(tmp_path / "objects"))
    for bucket in (META, DATA):
        store.create_bucket(bucket)
    entry = {"description": "records", "bucket": DATA, "prefix": "v1", "doclink": "", "metadata_prefix": SOURCE}
    store.put(META, SOURCES_JSON, json.dumps({SOURCE: entry}).encode())
    store.put(META, f"{SOURCE}/schema.json", json.dumps({"version": 1, "dimensions": [{"field_name": "day"}]}).encode())
    for day in range(1, 31):  # a month of history
        for n in range(3):
            key = f"2024-01-{day:02d}/h{n}.json.gz"
            store.put(DATA, f"v1/{key}", _file([f"h.{day}.{n}.{i}" for i in range(4)]))
    return store


def _read_ids(store: ObjectStoreResource) -> list[str]:
    dataset = Dataset.from_source(SOURCE, store, META)
    ids = []
    for info in dataset.objects():
        for line in gzip.decompress(store.get_bytes(dataset.bucket, info.key)).splitlines():
            ids.append(json.loads(line)["_id"])
    return ids


def _run(store: ObjectStoreResource, new_prefix: str, grace: float = 0.5, **kw) -> dg.ExecuteInProcessResult:
    return sources_migration.execute_in_process(
        run_config={"ops": {"reserve_prefix": {"config": {"source": SOURCE, "new_prefix": new_prefix,
                                                          "grace_seconds": grace}}}},
        resources={"object_store": store, "registry_settings": RegistrySettings(metadata_bucket=META)},
        **kw,
    )  # fmt: skip


def test_a_reader_never_sees_a_gap_or_a_duplicate_while_records_keep_arriving(store: ObjectStoreResource) -> None:
    acknowledged: list[str] = []
    stop, problems, reads = threading.Event(), [], [0]

    def writer() -> None:
        n = 0
        while not stop.is_set():
            ids = [f"w.{n}.{i}" for i in range(3)]
            routing.write(store, META, SOURCE, f"2024-02-{1 + n % 5:02d}/w{n}.json.gz", _file(ids))
            acknowledged.extend(ids)  # only once every current target holds them
            n += 1
            time.sleep(0.002)

    def reader() -> None:
        while not stop.is_set():
            before = set(acknowledged)
            seen = _read_ids(store)
            if len(seen) != len(set(seen)):
                problems.append(f"duplicates: {len(seen) - len(set(seen))}")
            if missing := before - set(seen):
                problems.append(f"gap: {len(missing)} acknowledged record(s) not seen, e.g. {sorted(missing)[:3]}")
            reads[0] += 1

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        result = _run(store, "v2")
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert result.success
    assert problems == [] and reads[0] > 5
    assert parse_sources(store.get_bytes(META, SOURCES_JSON))[SOURCE]["prefix"] == "v2"
    assert routing.writer_targets(store, META, SOURCE) == [(DATA, "v2")]
    final = _read_ids(store)
    assert set(final) >= set(acknowledged) and len(final) == len(set(final)) >= 360
    backfill = next(
        e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and e.step_key == "backfill_history"
    )
    assert backfill.event_specific_data.metadata["partitions"].value >= 30  # the month of history, day by day
    steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
    assert steps == ["reserve_prefix", "backfill_history", "cut_over", "fill_gap", "verify_complete",
                     "repoint_registry", "finish_cut_over"]  # fmt: skip


def test_a_prefix_that_holds_data_is_refused_before_anything_moves(store: ObjectStoreResource) -> None:
    store.put(DATA, "v9/2024-01-01/x.json.gz", _file(["x.0"]))
    result = _run(store, "v9", raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "already holds data" in message
    assert parse_sources(store.get_bytes(META, SOURCES_JSON))[SOURCE]["prefix"] == "v1"


def test_an_incomplete_copy_stops_the_job_before_the_repoint(
    store: ObjectStoreResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = migration.copy_missing

    def lossy(s, plan):  # loses one file of the history
        copied = real(s, plan)
        s.delete(DATA, "v2/2024-01-07/h1.json.gz")
        return copied

    monkeypatch.setattr(migration, "copy_missing", lossy)
    result = _run(store, "v2", raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "2024-01-07: 4 record(s) of the old location are not in the new" in message
    assert parse_sources(store.get_bytes(META, SOURCES_JSON))[SOURCE]["prefix"] == "v1"
