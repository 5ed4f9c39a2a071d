"""Download, validate, deduplicate and store buildhub.json keys, a batch at a time.

The original daemon took one key at a time: download, validate, one INSERT, one
commit. Here a batch downloads in parallel and lands in one transaction: the
builds, the key+ETag cache entries and the quarantine rows commit together, so a
crash leaves either all of a batch or none of it, and a re-run redoes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.contracts import CONTRACT, staged
from ci_assets.defs.buildhub.documents import Invalid, Valid, parse
from ci_assets.lib import contracts, quarantine, reconciliation
from ci_assets.lib.inventory import KeyRow, State
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.storage.object_store import ObjectNotFoundError, ObjectStore
from ci_assets.lib.storage.postgres import PostgresResource

SOURCE = "buildhub"
MAX_DOCUMENT_BYTES = 5 << 20  # real buildhub.json files are a few kB


@dataclasses.dataclass
class IngestReport:
    received: int = 0
    inserted: int = 0
    not_inserted: int = 0  # already stored (same hash), including cache hits
    cached: int = 0  # not downloaded at all: the key+ETag cache says nothing changed
    rejected: int = 0
    missing: int = 0  # listed, but gone before it could be downloaded; retried next time
    build_ids: set[str] = dataclasses.field(default_factory=set)
    rejected_keys: list[str] = dataclasses.field(default_factory=list)

    def tally(self) -> reconciliation.Tally:
        """Buildhub's words for the platform's: a document already stored is a duplicate, one gone
        since it was listed is ignored (it is asked for again next time)."""
        return reconciliation.Tally(self.received, self.inserted, self.not_inserted, self.rejected, self.missing)

    def reconciles(self) -> bool:
        return self.tally().balanced

    def add(self, other: IngestReport) -> None:
        for field in ("received", "inserted", "not_inserted", "cached", "rejected", "missing"):
            setattr(self, field, getattr(self, field) + getattr(other, field))
        self.build_ids |= other.build_ids
        self.rejected_keys += other.rejected_keys

    def as_metadata(self) -> dict[str, Any]:
        return reconciliation.metadata(self.tally(), {"cached": self.cached})


def _fetch(object_store: ObjectStore, bucket: str, row: KeyRow) -> tuple[KeyRow, bytes | None]:
    try:
        stored = object_store.get(bucket, row.key)
    except ObjectNotFoundError:
        return row, None
    assert stored is not None
    return row, stored.data


def ingest_keys(
    object_store: ObjectStore,
    postgres: PostgresResource,
    bucket: str,
    rows: Sequence[KeyRow],
    metrics: MetricsRecorder,
    context: str = "sqs",
    use_cache: bool = True,
    batch_size: int = 500,
    threads: int = 16,
    log: Callable[[str], None] = lambda _: None,
    run_id: str | None = None,
    adopt: Collection[str] = (),
) -> IngestReport:
    """`context` prefixes the metric keys the way Buildhub2 did (`sqs_inserted`, `backfill_inserted`).

    `run_id` is recorded with each key's outcome. A cached key that a run in `adopt` decided (one
    killed after its batch committed, before it reported: `reconciliation.unreported_runs`) is
    counted by this run as that run would have counted it, and recorded as this run's, so the
    day's numbers stay true after a crash and are counted once.

    Batch N is written to PostgreSQL while batch N+1 downloads and validates, so the
    database and the Python side work at the same time.
    """
    report = IngestReport()

    def finish(done: Future[IngestReport], upto: int) -> None:
        part = done.result()
        report.add(part)
        metrics.incr(f"{context}_inserted", part.inserted)
        metrics.incr(f"{context}_not_inserted", part.not_inserted)
        log(f"{upto}/{len(rows)} keys: {part.inserted} inserted, {part.rejected} rejected")

    with ThreadPoolExecutor(max_workers=threads) as pool, ThreadPoolExecutor(max_workers=1) as writer:
        pending: tuple[Future[IngestReport], int] | None = None
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            prepared = _prepare_batch(object_store, bucket, batch, pool, use_cache, set(adopt))
            if pending:
                finish(*pending)
            pending = (writer.submit(_write_batch, postgres, bucket, prepared, run_id), start + len(batch))
        if pending:
            finish(*pending)
    return report


@dataclasses.dataclass
class _Prepared:
    report: IngestReport
    valid: list[tuple[KeyRow, Valid]]
    rejected: list[quarantine.Rejected]
    outcomes: list[tuple[str, str, State]]
    adopted: list[KeyRow]  # cached keys a killed run decided, counted here


def _prepare_batch(
    object_store: ObjectStore,
    bucket: str,
    batch: Sequence[KeyRow],
    pool: ThreadPoolExecutor,
    use_cache: bool,
    adopt: set[str],
) -> _Prepared:
    report = IngestReport(received=len(batch))
    todo = [r for r in batch if not (use_cache and r.cached)]
    adopted = [r for r in batch if r not in todo and r.ingested_by in adopt]
    report.cached = len(batch) - len(todo)
    report.not_inserted = report.cached - sum(r.state in ("ingested", "rejected") for r in adopted)
    too_big = [r for r in todo if r.size > MAX_DOCUMENT_BYTES]
    wanted = [r for r in todo if r not in too_big]
    if wanted and object_store.local_path(bucket, wanted[0].key) is not None:
        fetched = [_fetch(object_store, bucket, r) for r in wanted]  # local disk: threads only add overhead
    else:
        fetched = list(pool.map(lambda r: _fetch(object_store, bucket, r), wanted))

    rejected = [
        quarantine.Rejected(
            f"s3://{bucket}/{r.key}",
            f"document too large: {r.size} bytes (limit {MAX_DOCUMENT_BYTES})",
            detail={"key": r.key, "etag": r.etag, "paths": ["$"]},
            partition=str(r.arrival_day),
        )
        for r in too_big
    ]
    outcomes: list[tuple[str, str, State]] = [(r.key, r.etag, "rejected") for r in too_big]
    valid: list[tuple[KeyRow, Valid]] = []
    for row, data in fetched:
        if data is None:
            report.missing += 1
            outcomes.append((row.key, row.etag, "gone"))  # asked for again next time
            continue
        parsed = parse(data)
        if isinstance(parsed, Invalid):
            rejected.append(
                quarantine.Rejected(
                    f"s3://{bucket}/{row.key}",
                    parsed.reason,
                    raw=data,
                    detail={"key": row.key, "etag": row.etag, "paths": parsed.paths},
                    partition=str(row.arrival_day),
                )
            )
            outcomes.append((row.key, row.etag, "rejected"))
        else:
            valid.append((row, parsed))
    valid = _keep_contract(bucket, valid, rejected, outcomes)
    report.build_ids = {parsed.build_id for _, parsed in valid if parsed.build_id}
    return _Prepared(report, valid, rejected, outcomes, adopted)


def _keep_contract(
    bucket: str,
    valid: list[tuple[KeyRow, Valid]],
    rejected: list[quarantine.Rejected],
    outcomes: list[tuple[str, str, State]],
) -> list[tuple[KeyRow, Valid]]:
    """The documents that keep the build's contract (what the warehouse table will take); the
    others join the quarantine with each rule they break, so the store never holds them."""
    if not valid:
        return valid
    _, violations = contracts.enforce(CONTRACT, staged([parsed.document for _, parsed in valid]))
    broken: dict[int, list[contracts.Violation]] = {}
    for v in violations:
        broken.setdefault(v.row, []).append(v)
    for position, found in sorted(broken.items()):
        row, parsed = valid[position]
        rejected.append(
            quarantine.Rejected(
                f"s3://{bucket}/{row.key}",
                "; ".join(v.reason for v in found),
                raw=parsed.raw or json.dumps(parsed.document).encode(),
                detail={"key": row.key, "etag": row.etag, "rules": [f"{v.column}: {v.rule}" for v in found]},
                partition=str(row.arrival_day),
            )
        )
        outcomes.append((row.key, row.etag, "rejected"))
    return [pair for position, pair in enumerate(valid) if position not in broken]


def _write_batch(postgres: PostgresResource, bucket: str, prepared: _Prepared, run_id: str | None) -> IngestReport:
    """Builds, cache entries and quarantine rows of a batch commit together, or not at all."""
    report, outcomes = prepared.report, list(prepared.outcomes)
    stored = [r for r in prepared.adopted if r.state == "ingested"]
    with postgres.connect() as conn:
        report.inserted += len(stored)
        report.build_ids |= store.build_ids_of_keys(conn, [r.key for r in stored])
        outcomes += [(r.key, r.etag, r.state) for r in prepared.adopted if r.state]
        new_hashes = store.insert_builds(
            conn,
            [
                store.NewBuild(v.build_hash, v.document, r.key, r.etag, raw_json=v.raw.decode() if v.raw else None)
                for r, v in prepared.valid
            ],
        )
        for row, parsed in prepared.valid:
            first = parsed.build_hash in new_hashes
            new_hashes.discard(parsed.build_hash)  # the same document under a second key is a duplicate
            report.inserted += first
            report.not_inserted += not first
            outcomes.append((row.key, row.etag, "ingested" if first else "duplicate"))
        store.INVENTORY.mark(conn, bucket, outcomes, run_id)
        quarantine.quarantine(conn, SOURCE, prepared.rejected)
    report.rejected = len(prepared.rejected) + sum(r.state == "rejected" for r in prepared.adopted)
    report.rejected_keys = [r.detail["key"] for r in prepared.rejected]
    return report
