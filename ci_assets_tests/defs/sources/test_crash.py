"""The registry's write SIGKILLed between its files: a reader never finds an index naming a schema not there."""

from pathlib import Path

import dagster as dg

from ci_assets.defs.sources.assets import registry
from ci_assets.defs.sources.reader import Dataset
from ci_assets.defs.sources.registry import SOURCES_JSON, parse_sources
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets_tests.crash import FreezePoint, crash_mid_write
from ci_assets_tests.defs.sources.test_registry import META, registry_resources

# The third object of the write: two schema files stored, the others and sources.json not yet.
MID_WRITE = FreezePoint("ci_assets.lib.storage.object_store:ObjectStore.put", call=3, after=False)


def write_registry(root: Path, dsn: str) -> None:
    store = LocalObjectStoreResource(root=str(root))
    assert dg.materialize([registry], resources=registry_resources(store, dsn)).success


def _objects(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_registry_write_killed_midway_shows_no_index_and_a_rerun_writes_what_a_clean_run_does(
    fresh_postgres: str, tmp_path: Path
) -> None:
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    write_registry(clean, fresh_postgres)
    store = LocalObjectStoreResource(root=str(crashed))

    def reader() -> None:  # schemas first, the index last: no index yet, so no source to resolve
        assert [p.name for p in (crashed / META).rglob("schema.json")], "the write has not begun"
        assert store.head(META, SOURCES_JSON) is None

    crash_mid_write(write_registry, (crashed, fresh_postgres), MID_WRITE, reader)
    write_registry(crashed, fresh_postgres)
    assert _objects(crashed / META) == _objects(clean / META)
    for name in parse_sources(store.get_bytes(META, SOURCES_JSON)):  # every source resolves to its schema
        assert Dataset.from_source(name, store, META).dimensions is not None
