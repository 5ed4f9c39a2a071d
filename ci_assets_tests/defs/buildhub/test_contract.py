"""A build's contract (schema.bigquery.json): checked at ingest, so the store never holds what the
warehouse table refuses, and again when the table is rebuilt; the asset's type is the last guard."""

import json
import random
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.contracts import CONTRACT, staged, typed
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import encode, key_for, make_document
from ci_assets.defs.buildhub.warehouse import builds_frame, builds_table
from ci_assets.lib import contract_type
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.defs.buildhub.conftest import BuildhubWorld
from ci_assets_tests.defs.buildhub.test_ingest import ingest, metadata, sql, tick


def _with(document: dict[str, Any], record: str, field: str, value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(document))
    changed[record][field] = value
    return changed


def test_a_build_whose_date_is_not_a_date_time_is_quarantined_at_ingest(world: BuildhubWorld) -> None:
    rng = random.Random(5)
    good = [make_document(rng) for _ in range(3)]
    bad = {
        "yesterday": _with(make_document(rng), "build", "date", "yesterday"),
        "month 13": _with(make_document(rng), "download", "date", "2020-13-45T00:00:00Z"),
    }
    for document in [*good, *bad.values()]:
        world.store.put(world.bucket, key_for(document), encode(document))
    tick(world)
    result = ingest(world)
    assert result.success
    meta = metadata(result)
    assert (meta["received"], meta["accepted"], meta["rejected"]) == (5, 3, 2)
    reasons = sorted(r for (r,) in sql(world, "SELECT reason FROM quarantine"))
    assert reasons == [
        "build: date_time(date) (value yesterday)",
        "download: date_time(date) (value 2020-13-45T00:00:00Z)",
    ]
    assert sql(world, "SELECT count(*) FROM buildhub.main_build") == [(3,)]
    states = sql(world, "SELECT state, count(*) FROM inventory.object_keys GROUP BY state ORDER BY state")
    assert states == [("ingested", 3), ("rejected", 2)]


def test_the_table_sets_aside_a_stored_build_that_breaks_the_contract(fresh_postgres: str, tmp_path: Path) -> None:
    """A build stored before ingest checked the contract: the table takes the others, the quarantine names it."""
    rng = random.Random(9)
    documents = [make_document(rng) for _ in range(4)]
    documents.append(_with(make_document(rng), "download", "url", None))
    with psycopg.connect(fresh_postgres) as conn:
        store.ensure_schema(conn)
        store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
    warehouse = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="warehouse")
    resources = {"postgres": PostgresResource(dsn=fresh_postgres), "warehouse_io_manager": warehouse}
    from ci_assets.defs.buildhub.assets import builds

    result = dg.materialize([builds.to_source_asset(), builds_table], resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("buildhub__builds_table")[0].metadata
    assert (meta["received"].value, meta["accepted"].value, meta["rejected"].value) == (5, 4, 1)
    assert meta["rejected_by_rule"].value == {"download: not_nullable(url)": 1}
    assert pl.read_parquet(tmp_path / "lake/warehouse/buildhub/builds_table/data.parquet").height == 4
    with psycopg.connect(fresh_postgres) as conn:
        rows = conn.execute("SELECT source, locator, reason FROM quarantine").fetchall()
    assert rows == [
        (
            "buildhub-warehouse",
            f"buildhub.main_build#{build_hash(documents[-1])}",
            "download: not_nullable(url) (value null)",
        )
    ]


def test_a_frame_that_slips_through_fails_the_type_and_nothing_is_stored(tmp_path: Path) -> None:
    rng = random.Random(2)
    frame = typed(staged([make_document(rng), _with(make_document(rng), "target", "channel", None)]))
    check = contract_type.dagster_type(CONTRACT).type_check(None, frame)
    assert not check.success and "not_nullable(channel)" in str(check.metadata) + str(check.description)

    @dg.asset(key=["buildhub", "builds_table"], dagster_type=contract_type.dagster_type(CONTRACT), io_manager_key="io")
    def slipped() -> pl.DataFrame:
        return frame

    io = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="w")
    result = dg.materialize([slipped], resources={"io": io}, raise_on_error=False)
    assert not result.success and not list(tmp_path.rglob("*.parquet"))


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30), st.just({})
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["build", "download", "source", "target", "other"]),
        st.one_of(_VALUES, st.dictionaries(st.sampled_from(["date", "url", "size", "id", "channel"]), _VALUES)),
    )
)
def test_any_document_becomes_a_row_or_a_rule_it_breaks(document: dict[str, Any]) -> None:
    """A document past the JSON schema check could still carry anything: staging never crashes."""
    frame, rows, violations = builds_frame([document])
    assert frame.height + len({v.row for v in violations}) == rows.height == 1
