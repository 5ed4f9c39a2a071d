"""The one object-store contract, held by the local store and by S3 (moto's server)."""

from __future__ import annotations

import hashlib
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ci_assets.lib.storage.local_store import LocalObjectStore
from ci_assets.lib.storage.object_store import (
    BucketNotFoundError,
    InvalidKeyError,
    ObjectNotFoundError,
    ObjectStore,
)
from ci_assets.lib.storage.s3_store import S3ObjectStore

# Names chosen so that S3's byte order differs from a naive directory walk:
# '-' and '.' sort before '/', which sorts before digits and letters.
TRICKY_KEYS = [
    "a-b",
    "a.b",
    "a/x",
    "a/x.json.gz",
    "a/y/z",
    "a0",
    "ab",
    "b/c/d/e.json",
    "tc.1623116:162311556.34.json.gz",
    "tc.1623116:162311556.35.json.gz",
    "tc.1623117:162311601.1.json.gz",
    "ü/x",
]


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
    else:
        yield S3ObjectStore(endpoint_url=request.getfixturevalue("moto_endpoint"))


@pytest.fixture
def bucket(store: ObjectStore) -> str:
    name = f"bkt-{uuid.uuid4().hex[:12]}"
    store.create_bucket(name)
    return name


def test_put_get_round_trip_with_etag(store: ObjectStore, bucket: str) -> None:
    etag = store.put(bucket, "dir/file.json", b'{"a": 1}')
    got = store.get(bucket, "dir/file.json")
    assert got is not None and got.data == b'{"a": 1}' and got.etag == etag
    info = store.head(bucket, "dir/file.json")
    assert info is not None and info.etag == etag and info.size == 8
    assert [o.etag for o in store.list(bucket)] == [etag]

    # Unchanged: a conditional get returns nothing; changed: the new bytes and a new ETag.
    assert store.get(bucket, "dir/file.json", if_none_match=etag) is None
    new_etag = store.put(bucket, "dir/file.json", b'{"a": 2, "b": 3}')
    assert new_etag != etag
    changed = store.get(bucket, "dir/file.json", if_none_match=etag)
    assert changed is not None and changed.data == b'{"a": 2, "b": 3}'


def test_missing_object_and_bucket_are_clear_errors(store: ObjectStore, bucket: str) -> None:
    assert store.head(bucket, "nope") is None
    with pytest.raises(ObjectNotFoundError, match="nope"):
        store.get(bucket, "nope")
    with pytest.raises(ObjectNotFoundError), store.open(bucket, "nope"):
        pass
    with pytest.raises(BucketNotFoundError, match="no-such-bucket"):
        list(store.list("no-such-bucket"))


def test_listing_is_in_s3_order_and_resumes_after_a_key(store: ObjectStore, bucket: str) -> None:
    shuffled = TRICKY_KEYS[:]
    random.Random(7).shuffle(shuffled)
    for key in shuffled:
        store.put(bucket, key, key.encode())
    expected = sorted(TRICKY_KEYS, key=str.encode)
    assert [o.key for o in store.list(bucket)] == expected
    # The seed's `?marker=` paging: everything strictly after the marker, whether or
    # not the marker itself is a key.
    for marker in ["a", "a-b", "a.b", "a/", "a/x", "tc.1623116", "tc.1623116:162311556.34.json.gz", "zzz", ""]:
        assert [o.key for o in store.list(bucket, start_after=marker)] == [k for k in expected if k > marker]
    assert [o.key for o in store.list(bucket, prefix="a/")] == ["a/x", "a/x.json.gz", "a/y/z"]
    assert [o.key for o in store.list(bucket, prefix="tc.1623116:")] == expected[-4:-2]


def test_pages_carry_a_cursor_until_the_listing_ends(store: ObjectStore, bucket: str) -> None:
    keys = [f"day=2024-01-{d:02d}/part-{i}.json" for d in range(1, 4) for i in range(5)]
    for key in keys:
        store.put(bucket, key, b"x")
    seen, cursor, pages = [], None, 0
    while True:
        page = store.list_page(bucket, start_after=cursor, max_keys=4)
        pages += 1
        seen += [o.key for o in page.objects]
        assert len(page.objects) <= 4
        if page.next_start_after is None:
            break
        cursor = page.next_start_after
    assert seen == sorted(keys) and pages == 4
    assert [o.key for o in store.list(bucket, page_size=2)] == sorted(keys)


def test_large_objects_stream_in_chunks(store: ObjectStore, bucket: str) -> None:
    blob = os.urandom(1 << 20) * 24  # 24 MiB: S3 takes it as a multipart upload
    store.put(bucket, "big.bin", blob)
    digest, biggest = hashlib.sha256(), 0
    with store.open(bucket, "big.bin") as stream:
        while chunk := stream.read(1 << 16):
            biggest = max(biggest, len(chunk))
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(blob).digest()
    assert biggest <= 1 << 16


def test_failed_write_leaves_the_previous_object_whole(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k.json", b"old and whole")
    with pytest.raises(RuntimeError), store.writer(bucket, "k.json") as out:
        out.write(b"half of the n")
        raise RuntimeError("crash mid-write")
    assert store.get_bytes(bucket, "k.json") == b"old and whole"
    assert [o.key for o in store.list(bucket)] == ["k.json"]  # no partial file is visible


def test_local_store_says_when_a_key_and_a_folder_clash(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("bucket", "a/b", b"x")
    with pytest.raises(InvalidKeyError, match="folder"):
        store.put("bucket", "a", b"x")
    with pytest.raises(InvalidKeyError, match="under another key"):
        store.put("bucket", "a/b/c", b"x")


def test_delete(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "gone", b"1")
    store.delete(bucket, "gone")
    assert store.head(bucket, "gone") is None


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/etc/passwd", "a//b", "./a", "a/.", "", "a\\..\\b"])
def test_local_store_refuses_keys_that_escape_its_root(tmp_path: Path, key: str) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(InvalidKeyError):
        store.put("bucket", key, b"x")
    with pytest.raises(InvalidKeyError):
        store.get("bucket", key)
    assert not (tmp_path / "escape").exists()


def test_local_store_refuses_a_symlink_out_of_the_bucket(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.create_bucket("bucket")
    (tmp_path / "outside").mkdir()
    (tmp_path / "objects" / "bucket" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidKeyError, match="outside"):
        store.put("bucket", "link/file", b"x")


@pytest.mark.parametrize("name", ["ab", "Upper", "under_score", "-lead", "a" * 64])
def test_invalid_bucket_names_are_refused_locally_as_s3_would(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidKeyError, match="bucket name"):
        LocalObjectStore(tmp_path).put(name, "k", b"x")


def test_local_and_s3_list_the_same_keys_in_the_same_order(tmp_path: Path, moto_endpoint: str) -> None:
    rng = random.Random(11)
    alphabet = "ab.-_/:0z"
    keys = set()
    while len(keys) < 300:
        key = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))).strip("/")
        if key and "//" not in key and all(p not in (".", "..") for p in key.split("/")):
            keys.add(key)
    # A key can't be both a file and a directory on disk; drop the ones that would clash.
    keys = {k for k in keys if not any(other.startswith(k + "/") for other in keys)}
    local, s3 = LocalObjectStore(tmp_path), S3ObjectStore(endpoint_url=moto_endpoint)
    s3_bucket = f"cmp-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(s3_bucket)
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    for key in keys:
        local.put("cmp", key, b"x")
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    markers = ["", *rng.sample(sorted(keys), 20), "a/", "b.", "0"]
    for marker in markers:
        for prefix in ["", "a", "a/", "b."]:
            want = [o.key for o in s3.list(s3_bucket, prefix=prefix, start_after=marker, page_size=7)]
            got = [o.key for o in local.list("cmp", prefix=prefix, start_after=marker, page_size=7)]
            assert got == want, (marker, prefix)
