"""Missing builds made visible: the problem Buildhub's users reported most was a build that never
showed up. Two questions, asked of the store by asset checks and shown in the search page's footer:

- every buildhub.json key the bucket holds (the key inventory) is ingested or quarantined: none
  left pending past a grace period;
- each newest nightly/release `build.id` has the platforms and locales its predecessor on the same
  product and channel had (the ones missing are listed).
"""

import dataclasses
import datetime as dt
from typing import Any

import dagster as dg
import psycopg

from ci_assets.defs.buildhub.assets import BUILDS
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.defs.buildhub.store import INVENTORY, SCHEMA, ensure_schema
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.postgres import PostgresResource

GRACE = dt.timedelta(hours=6)  # a key found this long ago and still not taken in is late
CHANNELS = ("nightly", "release")
LISTED = 50


@dataclasses.dataclass(frozen=True)
class Pending:
    count: int
    oldest: list[dict[str, Any]]  # key, discovered_at (the first LISTED)


def pending_keys(conn: psycopg.Connection, bucket: str, grace: dt.timedelta = GRACE) -> Pending:
    rows = conn.execute(
        "SELECT key, discovered_at, count(*) OVER () FROM inventory.object_keys "
        "WHERE system = %s AND bucket = %s AND state IS NULL AND discovered_at < now() - %s "
        "ORDER BY discovered_at LIMIT %s",
        (INVENTORY.system, bucket, grace, LISTED),
    ).fetchall()
    return Pending(rows[0][2] if rows else 0, [{"key": k, "discovered_at": t.isoformat()} for k, t, _ in rows])


@dataclasses.dataclass(frozen=True)
class Gap:
    product: str
    channel: str
    build_id: str
    predecessor: str
    missing: list[str]  # "platform/locale" the predecessor had and this build id has not


def missing_platforms(conn: psycopg.Connection, channels: tuple[str, ...] = CHANNELS) -> list[Gap]:
    """For each product and channel: the newest build id against the one before it."""
    rows = conn.execute(
        f"""
        WITH ranked AS (
            SELECT search_product AS product, search_channel AS channel, build #>> '{{build,id}}' AS build_id,
                   search_platform AS platform, search_locale AS locale,
                   dense_rank() OVER (PARTITION BY search_product, search_channel
                                      ORDER BY build #>> '{{build,id}}' DESC) AS rank
            FROM {SCHEMA}.main_build
            WHERE search_channel = ANY(%s) AND build #>> '{{build,id}}' IS NOT NULL
        )
        SELECT product, channel, rank, build_id, platform, locale FROM ranked WHERE rank <= 2
        """,
        (list(channels),),
    ).fetchall()
    found: dict[tuple[str, str], dict[int, tuple[str, set[str]]]] = {}
    for product, channel, rank, build_id, platform, locale in rows:
        _, platforms = found.setdefault((product, channel), {}).setdefault(rank, (build_id, set()))
        platforms.add(f"{platform}/{locale}")
    gaps = []
    for (product, channel), by_rank in sorted(found.items()):
        if 1 in by_rank and 2 in by_rank:
            (newest, has), (before, had) = by_rank[1], by_rank[2]
            if had - has:
                gaps.append(Gap(product, channel, newest, before, sorted(had - has)))
    return gaps


def _pending_result(pending: Pending) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=pending.count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"pending": pending.count, "oldest": dg.MetadataValue.json(pending.oldest)},
    )


@dg.asset_check(
    asset=BUILDS,
    name="every_key_ingested_or_quarantined",
    description=f"Every buildhub.json key found in the bucket is stored or quarantined within {GRACE}.",
    blocking=False,
)
@transient_retries()
def every_key_ingested_or_quarantined(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource, buildhub_settings: BuildhubSettings
) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        INVENTORY.ensure_schema(conn)
        return _pending_result(pending_keys(conn, buildhub_settings.bucket))


@dg.asset_check(
    asset=BUILDS,
    name="newest_builds_have_their_platforms",
    description="Each newest nightly/release build id has the platforms and locales of the one before it.",
    blocking=False,
)
@transient_retries()
def newest_builds_have_their_platforms(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        ensure_schema(conn)
        gaps = missing_platforms(conn)
    return dg.AssetCheckResult(
        passed=not gaps,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "build_ids_with_gaps": len(gaps),
            "missing": dg.MetadataValue.json([dataclasses.asdict(g) | {"missing": g.missing[:LISTED]} for g in gaps]),
        },
    )


CHECKS = [every_key_ingested_or_quarantined, newest_builds_have_their_platforms]
