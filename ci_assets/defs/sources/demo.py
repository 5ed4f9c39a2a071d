"""The registry for `make dev`: sources.json and the schemas, written from the graph as the asset does."""

from ci_assets.defs.sources.assets import settings_from_env, write_registry
from ci_assets.lib import env
from ci_assets.lib.storage.local_store import LocalObjectStore


def seed_demo() -> str:
    from ci_assets.definitions import defs  # the whole graph: every system's `source` metadata

    bucket = settings_from_env().metadata_bucket
    entries, _ = write_registry(
        LocalObjectStore(env.objects_root(), fsync=False), bucket, defs.resolve_all_asset_specs()
    )
    return f"sources.json with {len(entries)} sources in bucket {bucket}"
