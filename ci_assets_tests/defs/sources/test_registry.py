"""The registry written from the graph, read back through the reader; bad registries refused clearly."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.sources.assets import registry
from ci_assets.defs.sources.reader import Dataset
from ci_assets.defs.sources.registry import (
    MIGRATED_FROM,
    SOURCES_JSON,
    RegistryError,
    parse_schema,
    parse_sources,
)
from ci_assets.defs.sources.settings import RegistrySettings
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, ObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource

META = "pipeline-metadata-test"


@pytest.fixture
def store(tmp_path: Path, fresh_postgres: str) -> ObjectStoreResource:
    store = LocalObjectStoreResource(root=str(tmp_path / "objects"))
    _DSN[store.root] = fresh_postgres
    return store


_DSN: dict[str, str] = {}


def registry_resources(store: ObjectStoreResource, dsn: str) -> dict[str, Any]:
    return {
        "object_store": store,
        "postgres": PostgresResource(dsn=dsn),
        "registry_settings": RegistrySettings(metadata_bucket=META),
        # The resources that root the platform's own datasets: sources.json names their buckets.
        "lake_io_manager": ParquetIOManager(store=store, bucket="lake-elsewhere", prefix="lake"),
        "aggregates_source": AggregatesSource(dsn="postgresql://unused", bucket="dumps-elsewhere"),
    }


def _materialize(store: ObjectStoreResource) -> dg.ExecuteInProcessResult:
    return dg.materialize([registry], resources=registry_resources(store, _DSN[store.root]))


def test_sources_json_lists_every_declared_dataset_and_keeps_unknown_keys(store: ObjectStoreResource) -> None:
    store.create_bucket(META)
    store.put(META, SOURCES_JSON, json.dumps({
        "aggregates-dumps": {"description": "old", "bucket": "old-bucket", "prefix": "p", "metadata_prefix": "m",
                             "owner": "telemetry-team"},
    }).encode())  # fmt: skip
    result = _materialize(store)
    assert result.success
    sources = parse_sources(store.get_bytes(META, SOURCES_JSON))
    assert "aggregates-dumps" in sources and "activedata-test-result" in sources and len(sources) == 14
    kept = sources["aggregates-dumps"]
    assert kept["owner"] == "telemetry-team"  # unknown keys survive a regeneration
    assert kept["bucket"] == "dumps-elsewhere"  # the location is the graph's
    assert set(sources["activedata-perf"]) == {"description", "bucket", "prefix", "doclink", "metadata_prefix"}
    assert sources["activedata-perf"]["prefix"] == "lake/activedata/perf"
    assert sources["activedata-perf"]["bucket"] == "lake-elsewhere"
    assert parse_schema(store.get_bytes(META, "aggregates-dumps/schema.json"), "x") == ["aggregate_type", "ds_nodash"]
    # Their buckets do not exist in this empty store: the check says which.
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["entries_keep_contract"].passed
    check = checks["every_bucket_exists"]
    missing = {m["bucket"] for m in check.metadata["missing"].value}
    assert not check.passed and missing >= {"lake-elsewhere", "dumps-elsewhere"}
    assert checks["matches_graph"].passed


def test_a_dataset_the_graph_moves_is_rewritten_and_one_a_migration_moved_waits_for_the_graph(
    store: ObjectStoreResource,
) -> None:
    resources = registry_resources(store, _DSN[store.root])
    assert dg.materialize([registry], resources=resources).success
    declared = parse_sources(store.get_bytes(META, SOURCES_JSON))["aggregates-dumps"]
    # A migration moved it (its repoint records where from): the graph has not followed yet.
    sources = parse_sources(store.get_bytes(META, SOURCES_JSON))
    sources["aggregates-dumps"] |= {
        "bucket": "migrated",
        "prefix": "v2",
        MIGRATED_FROM: {"bucket": declared["bucket"], "prefix": declared["prefix"]},
    }
    store.put(META, SOURCES_JSON, json.dumps(sources).encode())
    result = dg.materialize([registry], resources=resources)
    entry = parse_sources(store.get_bytes(META, SOURCES_JSON))["aggregates-dumps"]
    assert (entry["bucket"], entry["prefix"]) == ("migrated", "v2")
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["matches_graph"]
    [disagreeing] = check.metadata["disagreeing"].value
    assert not check.passed and disagreeing["source"] == "aggregates-dumps" and "migration" in disagreeing["reason"]
    # The graph moves it (the dumps' bucket changes): sources.json follows, and the check passes again.
    moved = resources | {"aggregates_source": AggregatesSource(dsn="postgresql://unused", bucket="dumps-moved")}
    result = dg.materialize([registry], resources=moved)
    entry = parse_sources(store.get_bytes(META, SOURCES_JSON))["aggregates-dumps"]
    assert entry["bucket"] == "dumps-moved" and MIGRATED_FROM not in entry
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()}["matches_graph"]


def test_the_reader_resolves_through_the_registry_and_filters_by_dimension(store: ObjectStoreResource) -> None:
    assert _materialize(store).success
    sources = parse_sources(store.get_bytes(META, SOURCES_JSON))
    bucket, prefix = sources["aggregates-dumps"]["bucket"], sources["aggregates-dumps"]["prefix"]
    assert (bucket, prefix) == ("dumps-elsewhere", "aggregates/dumps")
    store.create_bucket(bucket)
    for aggregate_type, day in [("build_id", "20191201"), ("build_id", "20191202"), ("submission_date", "20191201")]:
        store.put(bucket, f"{prefix}/{aggregate_type}/{day}/toc.dat", b"x")
    dataset = Dataset.from_source("aggregates-dumps", store, META)
    assert dataset.dimensions == ("aggregate_type", "ds_nodash")
    keys = [o.key for o in dataset.where(aggregate_type="build_id", ds_nodash=lambda d: d >= "20191202").objects()]
    assert keys == [f"{prefix}/build_id/20191202/toc.dat"]
    assert len(list(dataset.objects())) == 3
    with pytest.raises(RegistryError, match=r"no dimension\(s\) \['channel'\]"):
        dataset.where(channel="nightly")
    with pytest.raises(RegistryError, match="unknown source 'telemetry'"):
        Dataset.from_source("telemetry", store, META)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"{not json", "is not JSON"),
        (b"[]", "not an object of sources"),
        (b'{"x": {"bucket": "b", "prefix": "p", "metadata_prefix": "m"}}', r"lacks \['description'\]"),
        (b'{"x": "a string"}', "is not an object"),
    ],
)
def test_a_sources_json_a_reader_cannot_trust_is_refused(text: bytes, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        parse_sources(text)


def test_a_schema_without_dimensions_is_refused(store: ObjectStoreResource) -> None:
    with pytest.raises(RegistryError, match="has no 'dimensions' list"):
        parse_schema(b'{"version": 1}', "x")
    with pytest.raises(RegistryError, match="field_name"):
        parse_schema(b'{"version": 1, "dimensions": [{"allowed_values": "*"}]}', "x")
    assert parse_schema(b'{"version": 1, "dimensions": []}', "x") == []  # a flat layout


def test_every_dataset_the_platform_stores_in_the_object_store_declares_its_source() -> None:
    from ci_assets.definitions import asset_graph, asset_specs

    defs = asset_graph()
    specs = asset_specs()
    lake = {
        key.to_user_string()
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition)
        for key in a.keys
        if a.get_io_manager_key_for_asset_key(key) == "lake_io_manager"
    }
    declared = {s.key.to_user_string() for s in specs if "source" in (s.metadata or {})}
    assert lake and lake <= declared, sorted(lake - declared)
    assert "aggregates/dump" in declared  # it writes its dumps to the object store itself


def test_a_source_that_breaks_the_registry_contract_is_quarantined_not_listed(store: ObjectStoreResource) -> None:
    """A location pointed (as a migration would) at a bucket S3 would refuse: consumers would fail on it,
    so it is left out."""
    assert _materialize(store).success
    declared = parse_sources(store.get_bytes(META, SOURCES_JSON))["aggregates-dumps"]
    store.put(META, SOURCES_JSON, json.dumps({
        "aggregates-dumps": {"description": "d", "bucket": "Dumps_Bucket", "prefix": "/abs", "metadata_prefix": "m",
                             MIGRATED_FROM: {"bucket": declared["bucket"], "prefix": declared["prefix"]}},
    }).encode())  # fmt: skip
    result = _materialize(store)
    assert result.success
    sources = parse_sources(store.get_bytes(META, SOURCES_JSON))
    assert "aggregates-dumps" not in sources and len(sources) == 13
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["entries_keep_contract"]
    assert not check.passed
    reasons = sorted(r["reason"] for r in check.metadata["rejected"].value)
    assert reasons == [
        "bucket: s3_bucket_name (value Dumps_Bucket)",
        "prefix: relative_path (value /abs)",
    ]
    with psycopg.connect(_DSN[store.root]) as conn:
        rows = conn.execute("SELECT source, locator FROM quarantine").fetchall()
    assert {r[1].rsplit("#")[1] for r in rows} == {"aggregates-dumps"} and len(rows) == 2


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
).map(lambda v: json.dumps(v).encode())))  # fmt: skip
def test_any_sources_json_is_read_or_refused_clearly(text: bytes) -> None:
    try:
        sources = parse_sources(text)
    except RegistryError:
        return
    assert isinstance(sources, dict) and all(isinstance(e["bucket"], str) for e in sources.values())


def test_the_registry_is_rewritten_by_dagsters_automation_when_the_graph_changes(tmp_path: Path) -> None:
    """Its code version is a digest of what the graph declares: the same graph asks for nothing, a
    graph whose dumps moved (a new deploy of the code location) asks for the registry."""
    from ci_assets.definitions import build_definitions
    from ci_assets.lib import env

    def defs(**variables: str) -> dg.Definitions:
        return build_definitions(env.read({"CI_ASSETS_HOME": str(tmp_path), **variables}))

    registry_keys = {dg.AssetKey(["sources", "sources_json"]), dg.AssetKey(["sources", "schema_json"])}
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs(), instance=instance)
        same = dg.evaluate_automation_conditions(defs=defs(), instance=instance, cursor=first.cursor)
        assert same.total_requested == 0
        moved = defs(CI_ASSETS_AGGREGATES_BUCKET="dumps-moved")
        versions = {s.key: s.code_version for s in moved.resolve_all_asset_specs() if s.key in registry_keys}
        assert len(set(versions.values())) == 1 and None not in versions.values()
        after = dg.evaluate_automation_conditions(defs=moved, instance=instance, cursor=same.cursor)
        assert after.get_requested_partitions(dg.AssetKey(["sources", "sources_json"])) == {None}
        assert {r.key for r in after.results if r.true_subset.size} == registry_keys
