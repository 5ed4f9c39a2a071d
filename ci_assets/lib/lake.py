"""Where the platform's own datasets live, as the registry names them.

The lake is a bucket of the object store like any dataset (locally `ci-assets-lake`, in the
cloud `$CI_ASSETS_LAKE_BUCKET/$CI_ASSETS_LAKE_PREFIX`), but which bucket is the environment's
choice, made in one place. So an asset's `source` metadata does not name a bucket: it names
the resource that roots it (`root`, e.g. the lake IO manager) and a prefix under that root,
and the registry resolves both when it writes sources.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LAKE_ROOT = "lake_io_manager"
LOCAL_LAKE_BUCKET = "ci-assets-lake"
DEFAULT_PREFIX = "lake"


def rooted_source(
    name: str, root: str, prefix: str, dimensions: Sequence[str], description: str, doclink: str = ""
) -> dict[str, Any]:
    """`source` metadata of a dataset under a resource's `bucket`/`prefix` (one folder per dimension)."""
    return {
        "name": name,
        "description": description,
        "root": root,
        "prefix": prefix.strip("/"),
        "dimensions": list(dimensions),
        "doclink": doclink,
        "metadata_prefix": name,
    }


def lake_source(
    name: str, asset_path: Sequence[str], dimensions: Sequence[str], description: str, doclink: str = ""
) -> dict[str, Any]:
    """The `source` metadata of an asset the lake IO manager stores (at its asset path)."""
    return rooted_source(name, LAKE_ROOT, "/".join(asset_path), dimensions, description, doclink)
