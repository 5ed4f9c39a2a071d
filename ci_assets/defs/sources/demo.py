"""The registry for `make dev`: sources.json and the schemas, written from the graph as the asset does."""

import datetime as dt
from typing import Any

from ci_assets.defs.sources.assets import source_roots, write_registry
from ci_assets.defs.sources.registry import declared_sources
from ci_assets.lib.launch import DemoRun


def seed_demo(resources: dict[str, Any]) -> str:
    from ci_assets.definitions import asset_specs  # the whole graph: every system's `source` metadata

    bucket = resources["registry_settings"].metadata_bucket
    specs = asset_specs()
    # The buckets the registry lists exist before anything runs, as a deployment provisions them:
    # the demo's registry run finds each one even before the run that first writes to it.
    for source in declared_sources(specs, source_roots(resources)).values():
        resources["object_store"].create_bucket(source["bucket"])
    written = write_registry(resources["object_store"], bucket, specs, source_roots(resources))
    return f"sources.json with {len(written.entries)} sources in bucket {bucket}"


def demo_runs(today: dt.date) -> list[DemoRun]:
    return [DemoRun("the registry", "sources", assets=[["sources", "sources_json"], ["sources", "schema_json"]])]
