"""Where the lake is, in each environment: a bucket of the object store, like any dataset.

Locally it is the bucket `ci-assets-lake` of the local object store (so the registry's
reader finds lake datasets the way it finds any other); in the cloud it is
`s3://$CI_ASSETS_LAKE_BUCKET/$CI_ASSETS_LAKE_PREFIX`. Assets stored there declare their
registry entry with `lake_source`, so sources.json names where the platform writes them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ci_assets.lib import env

LOCAL_LAKE_BUCKET = "ci-assets-lake"
DEFAULT_PREFIX = "lake"


def lake_location(environment: env.Environment | None = None) -> tuple[str, str]:
    """(bucket, prefix) of the lake; in the cloud the bucket is read from the environment."""
    if (environment or env.current_env()) == "cloud":
        return os.environ.get("CI_ASSETS_LAKE_BUCKET", ""), os.environ.get("CI_ASSETS_LAKE_PREFIX", DEFAULT_PREFIX)
    return LOCAL_LAKE_BUCKET, DEFAULT_PREFIX


def lake_source(
    name: str, asset_path: Sequence[str], dimensions: Sequence[str], description: str, doclink: str = ""
) -> dict[str, Any]:
    """The `source` metadata of an asset the lake IO manager stores (one hive folder per dimension)."""
    bucket, prefix = lake_location()
    return {
        "name": name,
        "description": description,
        "bucket": bucket,
        "prefix": "/".join(p for p in [prefix.strip("/"), *asset_path] if p),
        "dimensions": list(dimensions),
        "doclink": doclink,
        "metadata_prefix": name,
    }
