"""The eight buckets, by the seed's names, and listing from a marker on both object stores."""

from pathlib import Path

import pytest

from ci_assets.defs.activedata.assets import BUCKET_ASSETS
from ci_assets.defs.activedata.buckets import bucket_names
from ci_assets.lib.storage.object_store_resource import (
    LocalObjectStoreResource,
    S3ObjectStoreResource,
)


def test_one_asset_per_bucket_named_as_the_seed_names_it() -> None:
    assert bucket_names() == (
        "active-data-firefox-files",
        "active-data-fx-test-normalized",
        "active-data-treeherder-normalized",
        "active-data-test-result",
        "active-data-perf",
        "active-data-jobs",
        "active-data-codecoverage",
        "active-data-task-cluster-normalized",
    )
    for bucket, asset in BUCKET_ASSETS.items():
        spec = next(iter(asset.specs))
        assert spec.metadata["bucket"] == bucket and spec.group_name == "activedata"
        assert "json.gz" in (spec.description or "") and spec.partitions_def is not None


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_listing_from_a_marker_starts_right_after_it(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = (
        S3ObjectStoreResource(endpoint_url=request.getfixturevalue("moto_endpoint"))
        if kind == "s3"
        else LocalObjectStoreResource(root=str(tmp_path))
    )
    bucket = f"active-data-test-result-{kind}-{tmp_path.name[-8:].lower().replace('_', '-')}"
    store.create_bucket(bucket)
    keys = ["tc.1623115:1.1.json.gz", "tc.1623116.json.gz", "tc.1623116:162311556.34.json.gz", "tc.1623117:5.json.gz"]
    for key in keys:
        store.put(bucket, key, b"")
    after = [o.key for o in store.list(bucket, start_after="tc.1623116")]
    # S3 orders bytes: '.' (0x2e) sorts before ':' (0x3a), and both before digits.
    assert after == sorted(k for k in keys if k > "tc.1623116")
    assert after == ["tc.1623116.json.gz", "tc.1623116:162311556.34.json.gz", "tc.1623117:5.json.gz"]
