"""Buildhub ingest: 20,000 buildhub.json into the PostgreSQL at 127.0.0.1.

Baseline (in this script): what Buildhub2's daemon did per key — download, validate,
one INSERT ... ON CONFLICT DO NOTHING, one commit. Ours: `ingest_keys` (parallel
downloads, one transaction per batch of 500). Each writes into its own fresh database.
Target: >= 5x the baseline's throughput.

Run three times: against moto's S3 server (in its own process), against moto behind a
loopback proxy that holds each request `--latency-ms` (20) first, as real S3's round trips
do, and against the local object store. moto answers at most ~500 GETs a second on this
machine, which caps any S3 client; the proxied run shows what concurrency buys when each
request costs what it does on S3; the local store shows what the pipeline itself does.

    python bench/buildhub_ingest.py [--documents 20000]

`--whole-bucket 2000000` instead ingests a whole bucket of that many keys from the local store
(written first, chunk by chunk, never all in memory): listing, inventory and ingest timed apart,
with the database's size after (no baseline: one at a time would take over half an hour).
"""

import argparse
import json
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import boto3
import jsonschema
import psycopg
from moto_process import moto_server
from psycopg.types.json import Jsonb

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash, schema
from ci_assets.defs.buildhub.ingest import ingest_keys
from ci_assets.defs.buildhub.samples import encode, key_for, make_document
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.storage.local_store import LocalObjectStore
from ci_assets.lib.storage.object_store import ObjectStore
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.s3_store import S3ObjectStore
from ci_assets_tests.services.databases import scratch_database
from ci_assets_tests.services.faulty_proxy import Faults, faulty_proxy


def baseline(s3: ObjectStore, bucket: str, keys: list[str], dsn: str) -> int:
    validator = jsonschema.validators.validator_for(schema())(schema())
    inserted = 0
    with psycopg.connect(dsn) as conn:
        store.ensure_schema(conn)
        conn.commit()
        for key in keys:
            stored = s3.get(bucket, key)
            assert stored is not None
            document = json.loads(stored.data)
            validator.validate(document)  # Buildhub2 validated with jsonschema, document by document
            row = conn.execute(
                f"INSERT INTO {store.SCHEMA}.main_build (build_hash, build, s3_object_key, s3_object_etag) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (build_hash) DO NOTHING RETURNING id",
                (build_hash(document), Jsonb(document), key, stored.etag),
            ).fetchone()
            conn.commit()
            inserted += row is not None
    return inserted


def ours(s3: ObjectStore, bucket: str, dsn: str) -> tuple[int, float]:
    """Returns the inserted count and the seconds spent discovering keys (listing them into the
    inventory): the daemon was handed its keys by SQS, so that part is reported apart."""
    postgres = PostgresResource(dsn=dsn)
    t0 = time.perf_counter()
    with postgres.connect() as conn:
        store.ensure_schema(conn)
        listed = list(s3.list(bucket))
        store.INVENTORY.record(conn, bucket, listed)
        rows = store.INVENTORY.keys_by_name(conn, bucket, [o.key for o in listed])
    discovery = time.perf_counter() - t0
    report = ingest_keys(s3, postgres, bucket, rows, MetricsRecorder("bench"))
    assert report.reconciles()
    return report.inserted, discovery


def compare(label: str, objects: ObjectStore, bucket: str, documents: dict[str, bytes]) -> None:
    with scratch_database("bench_buildhub") as base_dsn, scratch_database("bench_buildhub") as our_dsn:
        t0 = time.perf_counter()
        base_inserted = baseline(objects, bucket, sorted(documents), base_dsn)
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        our_inserted, discovery = ours(objects, bucket, our_dsn)
        mine = time.perf_counter() - t0
    assert base_inserted == our_inserted == len(documents)
    n = len(documents)
    print(f"{n:,} buildhub.json from {label} into PostgreSQL at 127.0.0.1:5432")
    print(f"  one at a time (Buildhub2's daemon): {base:7.2f} s  {n / base:8.0f} documents/s")
    ingest = mine - discovery
    print(f"  ingest_keys (batched, pipelined):   {ingest:7.2f} s  {n / ingest:8.0f} documents/s")
    print(f"  ... plus discovery (list + inventory): {discovery:5.2f} s  {n / mine:8.0f} documents/s in all")
    print(f"  throughput: {base / ingest:.1f}x the baseline (target >= 5x); {base / mine:.1f}x counting discovery")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--stores", default="moto,latency,local", help="which object stores to run against")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="S3 round trip added by the proxy run")
    parser.add_argument(
        "--latency-documents",
        type=int,
        default=2_000,
        help="documents of the proxied run (one at a time, 20,000 would take the baseline 8 minutes)",
    )
    parser.add_argument("--whole-bucket", type=int, default=0, help="keys of a whole bucket on the local store")
    args = parser.parse_args()
    if args.whole_bucket:
        whole_bucket(args.whole_bucket)
        return
    rng = random.Random(5)
    documents: dict[str, bytes] = {}
    while len(documents) < args.documents:
        document = make_document(rng)
        documents[key_for(document)] = encode(document)
    bucket = "bench-buildhub"

    if "moto" in args.stores or "latency" in args.stores:
        latency = (args.latency_ms, args.latency_documents) if "latency" in args.stores else None
        run_on_moto(bucket, documents, "moto" in args.stores, latency)
    if "local" in args.stores:
        run_on_local(bucket, documents)


def run_on_moto(bucket: str, documents: dict[str, bytes], plain: bool, latency: tuple[float, int] | None) -> None:
    with moto_server() as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint)

        def fill(name: str, items: dict[str, bytes]) -> None:
            client.create_bucket(Bucket=name)
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda kv: client.put_object(Bucket=name, Key=kv[0], Body=kv[1]), items.items()))

        if plain:
            fill(bucket, documents)
            compare("moto's S3 server (own process)", S3ObjectStore(endpoint_url=endpoint), bucket, documents)
        if latency is not None:
            latency_ms, count = latency
            some = dict(list(documents.items())[:count])
            fill(bucket + "-slow", some)
            with faulty_proxy(endpoint, Faults(latency=latency_ms / 1000)) as slow:
                label = f"moto's S3 server behind {latency_ms:.0f} ms a request"
                compare(label, S3ObjectStore(endpoint_url=slow), bucket + "-slow", some)


def run_on_local(bucket: str, documents: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-buildhub-") as root:
        local = LocalObjectStore(root, fsync=False)
        for key, body in documents.items():
            local.put(bucket, key, body)
        compare("the local object store", local, bucket, documents)


WHOLE_BUCKET = "bench-whole-bucket"


def _write_keys(root: str, seed: int, count: int) -> None:
    rng, local = random.Random(seed), LocalObjectStore(root, fsync=False)
    for _ in range(count):
        document = make_document(rng)
        local.put(WHOLE_BUCKET, key_for(document), encode(document))


def whole_bucket(count: int) -> None:
    bucket = WHOLE_BUCKET
    with tempfile.TemporaryDirectory(prefix="bench-buildhub-") as root, scratch_database("bench_whole") as dsn:
        local = LocalObjectStore(root, fsync=False)
        t0 = time.perf_counter()
        chunks = [(root, seed, min(100_000, count - start)) for seed, start in enumerate(range(0, count, 100_000))]
        with ProcessPoolExecutor(2) as pool:  # the set-up only: both cores write the keys' files
            list(pool.map(_write_keys, *zip(*chunks, strict=True)))
        write = time.perf_counter() - t0
        postgres = PostgresResource(dsn=dsn)
        t0 = time.perf_counter()
        with postgres.connect() as conn:
            store.ensure_schema(conn)
            listed = list(local.list(bucket))
            listing = time.perf_counter() - t0
            store.INVENTORY.record(conn, bucket, listed)
            rows = store.INVENTORY.keys_by_name(conn, bucket, [o.key for o in listed])
        discovery = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = ingest_keys(local, postgres, bucket, rows, MetricsRecorder("bench"))
        ingest = time.perf_counter() - t0
        assert report.reconciles()
        with postgres.connect() as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
            stored = conn.execute(f"SELECT count(*) FROM {store.SCHEMA}.main_build").fetchone()
    print(f"a whole bucket of {count:,} buildhub.json keys on the local store into PostgreSQL at 127.0.0.1:5432")
    print(f"  written to the store in {write:.0f} s (set-up, not timed below)")
    print(f"  listing {listing:.1f} s; listing + inventory {discovery:.1f} s")
    print(f"  ingest_keys: {ingest:.1f} s ({count / ingest:,.0f} documents/s); {report.inserted:,} inserted")
    print(f"  in all {discovery + ingest:.0f} s; the builds table holds {stored[0] if stored else '?':,} builds")
    print(f"  database size {size[0] if size else '?'}")


if __name__ == "__main__":
    main()
