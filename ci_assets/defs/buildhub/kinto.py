"""The Kinto migration: copy the legacy Buildhub (Kinto) records in, safe to re-run.

Pages through `/buckets/build-hub/collections/releases/records` following
`Next-Page`, sorted by `last_modified` so a run can resume with `_since` from where
the last one stopped. Each record, without Kinto's `id` and `last_modified`, is a
buildhub.json document: validated, hashed, inserted if new. Run it until
`kinto_inserted` stays at zero.
"""

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import dagster as dg

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.assets import add_build_partitions
from ci_assets.defs.buildhub.automation import METRICS_NAMESPACE
from ci_assets.defs.buildhub.documents import Invalid, parse_document
from ci_assets.lib import quarantine
from ci_assets.lib.lazy import lazy
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.postgres import PostgresResource

if TYPE_CHECKING:
    import requests
else:  # imported on first use (ci_assets.lib.lazy): only the migration job talks to Kinto
    requests = lazy("requests")

RECORDS_PATH = "/buckets/build-hub/collections/releases/records"


class KintoConfig(dg.Config):
    kinto_url: str = "https://kinto-ota.dev.mozaws.net/v1"
    page_size: int = 10_000
    since: int | None = None  # only records modified after this Kinto timestamp
    max_attempts: int = 3


def _get(session: "requests.Session", url: str, attempts: int) -> "requests.Response":
    """GET with a bounded number of tries and a growing pause; HTTP errors are not retried."""
    for attempt in range(1, attempts + 1):
        try:
            response = session.get(url, timeout=300)
            response.raise_for_status()
            return response
        except (requests.ConnectionError, requests.Timeout):
            if attempt == attempts:
                raise
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


def pages(config: KintoConfig, session: "requests.Session") -> Iterator[list[dict[str, Any]]]:
    base = config.kinto_url.rstrip("/")
    url = f"{base}{RECORDS_PATH}?_sort=last_modified&_limit={config.page_size}"
    if config.since is not None:
        url += f"&_since={config.since}"
    host = urlparse(base).netloc
    while url:
        response = _get(session, url, config.max_attempts)
        yield list(response.json()["data"])
        url = response.headers.get("Next-Page") or ""
        if url and urlparse(url).netloc != host:
            raise ValueError(f"Kinto's Next-Page points to another host: {url}")


@dg.op(description="Insert the Kinto records that are new; re-run until kinto_inserted is zero.")
@transient_retries()
def migrate_from_kinto(
    context: dg.OpExecutionContext, config: KintoConfig, postgres: PostgresResource
) -> dg.Output[None]:
    metrics = MetricsRecorder(METRICS_NAMESPACE)
    counts = {"received": 0, "accepted": 0, "duplicate": 0, "rejected": 0, "ignored": 0}
    build_ids: set[str] = set()
    last_modified = config.since
    with postgres.connect() as conn:
        store.ensure_schema(conn)
    with requests.Session() as session:
        for page in pages(config, session):
            builds, rejected = [], []
            for record in page:
                record_id, modified = record.pop("id", None), record.pop("last_modified", None)
                last_modified = modified if isinstance(modified, int) else last_modified
                parsed = parse_document(record)
                if isinstance(parsed, Invalid):
                    rejected.append(
                        quarantine.Rejected(
                            f"kinto:{record_id}", parsed.reason, raw=json.dumps(record), detail={"paths": parsed.paths}
                        )
                    )
                    continue
                builds.append(
                    store.NewBuild(
                        parsed.build_hash,
                        parsed.document,
                        None,
                        None,
                        metadata={"kinto-migration": True, "kinto_id": record_id},
                    )
                )
                if parsed.build_id:
                    build_ids.add(parsed.build_id)
            with postgres.connect() as conn:
                inserted = store.insert_builds(conn, builds)
                quarantine.quarantine(conn, "buildhub-kinto", rejected)
            metrics.incr("kinto_migrated", len(page))
            metrics.incr("kinto_inserted", len(inserted))
            counts["received"] += len(page)
            counts["accepted"] += len(inserted)
            counts["duplicate"] += len(builds) - len(inserted)
            counts["rejected"] += len(rejected)
            context.log.info(f"page of {len(page)}: {len(inserted)} inserted; resume with since={last_modified}")
    add_build_partitions(context.instance, build_ids)
    return dg.Output(None, metadata={**counts, **metrics.as_metadata(), "resume_since": last_modified})


@dg.job(name="buildhub_kinto_migration", description="Copy the legacy Kinto records of Buildhub into PostgreSQL.")
def kinto_migration_job() -> None:
    migrate_from_kinto()
