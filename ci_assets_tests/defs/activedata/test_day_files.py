"""A day's files read by the download threads, each parsing what it fetched: the same records,
lines and bad lines as reading each file alone by the per-line path, whatever the files hold."""

import datetime as dt
import gzip
import tempfile

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.activedata.assets import SCHEMA
from ci_assets.defs.activedata.day_files import read_day_files
from ci_assets.defs.activedata.records import read_records
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource

BUCKET = "active-data-test-result"
DAY = dt.date(2026, 11, 30)
KEYS = [f"tc.1623116:16231155{n}.34.json.gz" for n in range(6)]

_ID = st.text(min_size=0, max_size=12)  # unicode included: offsets count bytes, not characters
_LINE = st.one_of(
    st.builds(
        lambda i, v: f'{{"_id": {i!r}, "v": {v}}}'.replace("'", '"').encode(),
        st.from_regex(r"[a-z.:0-9]{1,12}", fullmatch=True),
        st.integers(),
    ),
    st.builds(lambda i: b'{"_id": "' + i.encode("utf-8", "surrogatepass") + b'"}', _ID),  # escapes, quotes, surrogates
    st.sampled_from([b"not json", b'{"no_id": 1}', b"[1, 2]", b'{"_id": 7}', b'{"_id": ""}', b'{"_id": null}', b""]),
    st.sampled_from([b'{"_id": "x"} trailing', b"\xff\xfe", b'{"_id": "a\\u00e9"}', b'{"_id": "\\ud800"}', b"\x00"]),
    st.binary(max_size=40),
)


@st.composite
def _file(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(_LINE, max_size=12))
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    body = gzip.compress(end.join(lines) + (end if draw(st.booleans()) else b""))
    cut = draw(st.sampled_from(["whole", "truncated", "not gzip"]))
    if cut == "truncated":
        return body[: max(1, len(body) - draw(st.integers(1, 12)))]
    return end.join(lines) if cut == "not gzip" else body


@settings(max_examples=40, deadline=None)
@given(st.lists(_file(), min_size=1, max_size=len(KEYS)), st.integers(1, 4))
def test_the_threads_read_every_file_as_the_per_line_path_would(bodies: list[bytes], threads: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = LocalObjectStoreResource(root=root, fsync=False)
        store.create_bucket(BUCKET)
        for key, body in zip(KEYS, bodies, strict=False):
            store.put(BUCKET, key, body)
        files = [(DAY, key, None) for key in KEYS[: len(bodies)]]
        got = read_day_files(store, BUCKET, files, threads=threads, schema=SCHEMA)

    expected = [(key, read_records(body)) for key, body in zip(KEYS, bodies, strict=False)]
    rows = [
        {"_id": i, "key": key, "line": n, "arrival_day": DAY, "record": r.decode()}
        for key, found in expected
        for i, n, r in zip(found.ids, found.lines, found.records, strict=True)
    ]
    assert got.records.equals(pl.DataFrame(rows, schema=SCHEMA))
    bad = [(f"s3://{BUCKET}/{key}#L{b.line}", b.reason, b.raw) for key, found in expected for b in found.bad]
    assert [(r.locator, r.reason, r.raw) for r in got.rejected] == bad
    assert got.states == [(key, None, "ingested") for key, _ in expected] and got.gone == 0


def test_a_gone_file_and_a_key_off_the_convention_are_said_so(tmp_path) -> None:
    store = LocalObjectStoreResource(root=str(tmp_path), fsync=False)
    store.create_bucket(BUCKET)
    store.put(BUCKET, KEYS[0], gzip.compress(b'{"_id": "tc.1623116:162311550.34.0"}\n'))
    files = [(DAY, KEYS[0], "e0"), (DAY, KEYS[1], "e1"), (DAY, "not-a-lineage.txt", "e2")]
    got = read_day_files(store, BUCKET, files, threads=2, schema=SCHEMA)
    assert got.records["_id"].to_list() == ["tc.1623116:162311550.34.0"]
    assert got.states == [(KEYS[0], "e0", "ingested"), (KEYS[1], "e1", "gone"), ("not-a-lineage.txt", "e2", "rejected")]
    assert got.gone == 1 and [r.reason.split(":")[0] for r in got.rejected] == ["key breaks the convention"]


def test_files_read_by_many_threads_at_once_come_back_whole_and_in_key_order(tmp_path) -> None:
    store = LocalObjectStoreResource(root=str(tmp_path), fsync=False)
    store.create_bucket(BUCKET)
    keys = [f"tc.1623116:{162311000 + n}.34.json.gz" for n in range(300)]
    bodies = [gzip.compress(b"".join(b'{"_id": "f%d.%d"}\n' % (n, i) for i in range(n % 50))) for n in range(300)]
    for key, body in zip(keys, bodies, strict=True):
        store.put(BUCKET, key, body)
    got = read_day_files(store, BUCKET, [(DAY, key, None) for key in keys], threads=16, schema=SCHEMA)
    assert got.records["_id"].to_list() == [f"f{n}.{i}" for n in range(300) for i in range(n % 50)]
    assert got.records["key"].to_list() == [key for n, key in enumerate(keys) for _ in range(n % 50)]
    assert got.records["line"].to_list() == [i + 1 for n in range(300) for i in range(n % 50)]


def test_a_download_that_fails_fails_the_read(tmp_path, monkeypatch) -> None:
    """Not a file gone (that is said so): an error the step's retry policy is to see."""
    store = LocalObjectStoreResource(root=str(tmp_path), fsync=False)
    store.create_bucket(BUCKET)
    for key in KEYS:
        store.put(BUCKET, key, gzip.compress(b'{"_id": "tc.1623116:162311550.34.0"}\n'))

    original = LocalObjectStoreResource.get_bytes

    def get_bytes(self, bucket: str, key: str) -> bytes:
        if key == KEYS[3]:
            raise ConnectionResetError("reset by peer")
        return original(self, bucket, key)

    monkeypatch.setattr(type(store), "get_bytes", get_bytes)
    with pytest.raises(ConnectionResetError):
        read_day_files(store, BUCKET, [(DAY, key, None) for key in KEYS], threads=4, schema=SCHEMA)
