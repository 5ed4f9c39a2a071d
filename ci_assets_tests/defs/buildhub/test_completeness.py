"""Missing builds made visible: keys left pending past the grace period, and a newest build id that
lacks platforms or locales its predecessor had; both as asset checks and in the page's footer."""

import datetime as dt
import json
import random
from typing import Any

import dagster as dg
import psycopg
from starlette.testclient import TestClient

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.completeness import CHECKS, missing_platforms, pending_keys
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.search.api import create_app, ensure_reader_role, reader_dsn
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib.storage.object_store import ObjectInfo
from ci_assets.lib.storage.postgres import PostgresResource

BUCKET = "buildhub-completeness"


def _build(rng: random.Random, product: str, channel: str, build_id: str, platform: str, locale: str) -> dict[str, Any]:
    document = make_document(rng)
    document["source"]["product"] = product
    document["target"] |= {"channel": channel, "platform": platform, "locale": locale}
    document["build"]["id"] = build_id
    return json.loads(json.dumps(document))


def _world(dsn: str) -> None:
    rng = random.Random(4)
    builds = [
        _build(rng, "firefox", "nightly", "20261128000000", "win64", "en-US"),
        _build(rng, "firefox", "nightly", "20261128000000", "linux-x86_64", "de"),
        _build(rng, "firefox", "nightly", "20261129000000", "win64", "en-US"),  # lacks linux-x86_64/de
        _build(rng, "firefox", "release", "20261101000000", "win64", "fr"),
        _build(rng, "firefox", "release", "20261102000000", "win64", "fr"),
        _build(rng, "firefox", "beta", "20261101000000", "mac", "it"),  # not a channel the check follows
    ]
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(dsn) as conn:
        store.ensure_schema(conn)
        store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in builds])
        objects = [ObjectInfo(f"pub/{n}/buildhub.json", 10, f"etag-{n}", now) for n in range(3)]
        store.INVENTORY.record(conn, BUCKET, objects)
        store.INVENTORY.mark(conn, BUCKET, [("pub/0/buildhub.json", "etag-0", "ingested")])
        # pub/1 was found a day ago and is still pending; pub/2 was found just now (within the grace).
        late = "UPDATE inventory.object_keys SET discovered_at = now() - interval '1 day' WHERE key = %s"
        conn.execute(late, ("pub/1/buildhub.json",))
        ensure_reader_role(conn)


def test_the_late_keys_and_the_missing_platforms_are_found(fresh_postgres: str) -> None:
    _world(fresh_postgres)
    with psycopg.connect(fresh_postgres) as conn:
        pending = pending_keys(conn, BUCKET)
        gaps = missing_platforms(conn)
    assert pending.count == 1 and pending.oldest[0]["key"] == "pub/1/buildhub.json"
    assert [(g.product, g.channel, g.build_id, g.predecessor, g.missing) for g in gaps] == [
        ("firefox", "nightly", "20261129000000", "20261128000000", ["linux-x86_64/de"])
    ]


def test_the_checks_say_so_in_dagster(fresh_postgres: str) -> None:
    _world(fresh_postgres)
    resources = {"postgres": PostgresResource(dsn=fresh_postgres), "buildhub_settings": BuildhubSettings(bucket=BUCKET)}
    from ci_assets.defs.buildhub.assets import BUILDS

    checks_only = dg.define_asset_job("completeness", selection=dg.AssetSelection.checks(*CHECKS))
    defs = dg.Definitions(assets=[dg.AssetSpec(BUILDS)], asset_checks=CHECKS, jobs=[checks_only], resources=resources)
    result = defs.resolve_job_def("completeness").execute_in_process()
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["every_key_ingested_or_quarantined"].passed
    assert evaluations["every_key_ingested_or_quarantined"].metadata["pending"].value == 1
    gap = evaluations["newest_builds_have_their_platforms"]
    assert not gap.passed and gap.metadata["missing"].value[0]["missing"] == ["linux-x86_64/de"]


def test_the_page_footer_shows_them(fresh_postgres: str) -> None:
    _world(fresh_postgres)
    with TestClient(create_app(reader_dsn(fresh_postgres), bucket=BUCKET)) as client:
        html = client.get("/").text
    footer = html.split('id="completeness"')[1].split("</div>")[0]
    assert "1 buildhub.json key not taken in after 6 h" in footer and "pub/1/buildhub.json" in footer
    assert "firefox nightly 20261129000000 lacks 1 platform/locale that 20261128000000 had (linux-x86_64/de)" in footer
