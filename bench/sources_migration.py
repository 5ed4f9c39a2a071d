"""Migrating a source with 365 daily partitions while its writer keeps writing.

A local object store holds a year of a source (3 files of 50 records a day); a writer
thread writes new files through the source's writer routing, and a sampler thread keeps
resolving the location through sources.json and checking that everything acknowledged
before it resolved is there. Prints the migration's wall time, step by step, and how long
the registry pointed at an incomplete location (target: never).

    python bench/sources_migration.py [--days 365]
"""

import argparse
import datetime as dt
import gzip
import json
import tempfile
import threading
import time

from ci_assets.defs.sources import routing
from ci_assets.defs.sources.migration_job import sources_migration
from ci_assets.defs.sources.registry import SOURCES_JSON, parse_sources
from ci_assets.defs.sources.settings import RegistrySettings
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource

META, DATA, SOURCE = "pipeline-metadata-bench", "ci-assets-bench-records", "bench-records"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _file(ids: list[str]) -> bytes:
    return gzip.compress("".join(json.dumps({"_id": i, "value": 1}) + "\n" for i in ids).encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalObjectStoreResource(root=tmp)
        for bucket in (META, DATA):
            store.create_bucket(bucket)
        entry = {"description": "bench", "bucket": DATA, "prefix": "v1", "doclink": "", "metadata_prefix": SOURCE}
        store.put(META, SOURCES_JSON, json.dumps({SOURCE: entry}).encode())
        schema = {"version": 1, "dimensions": [{"field_name": "day"}]}
        store.put(META, f"{SOURCE}/schema.json", json.dumps(schema).encode())
        first = dt.date(2023, 1, 1)
        acknowledged: list[str] = []
        for d in range(args.days):
            for n in range(3):
                key = f"{first + dt.timedelta(days=d)}/h{n}.json.gz"
                store.put(DATA, f"v1/{key}", _file([f"{key}.{i}" for i in range(50)]))
                acknowledged.append(key)

        stop = threading.Event()
        samples, incomplete = [0], [0.0]

        def writer() -> None:
            n = 0
            while not stop.is_set():
                key = f"{first + dt.timedelta(days=args.days - 1)}/live{n}.json.gz"
                routing.write(store, META, SOURCE, key, _file([f"{key}.0"]))
                acknowledged.append(key)
                n += 1
                time.sleep(0.005)

        def sampler() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                before = set(acknowledged)
                found = parse_sources(store.get_bytes(META, SOURCES_JSON))[SOURCE]
                base = f"{found['prefix']}/"
                there = {o.key[len(base) :] for o in store.list(found["bucket"], prefix=base)}
                if not before <= there:
                    incomplete[0] += time.perf_counter() - t0
                samples[0] += 1

        threads = [threading.Thread(target=writer), threading.Thread(target=sampler)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        result = sources_migration.execute_in_process(
            run_config={
                **QUIET,
                "ops": {"reserve_prefix": {"config": {"source": SOURCE, "new_prefix": "v2", "grace_seconds": 1.0}}},
            },
            resources={"object_store": store, "registry_settings": RegistrySettings(metadata_bucket=META)},
        )
        wall = time.perf_counter() - t0
        stop.set()
        for t in threads:
            t.join()
        assert result.success
        steps = {
            e.step_key: e.event_specific_data.duration_ms / 1000
            for e in result.all_events
            if e.event_type_value == "STEP_SUCCESS"
        }
    print(f"migration of a source with {args.days} daily partitions ({args.days * 3} files), writer running throughout")
    print(f"  wall time: {wall:.2f} s  (" + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()) + ")")
    print(f"  registry at an incomplete location: {incomplete[0]:.3f} s over {samples[0]} samples (target: never)")


if __name__ == "__main__":
    main()
