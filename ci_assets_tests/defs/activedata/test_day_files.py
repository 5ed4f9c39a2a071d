"""A day's files read through the line parsers' processes: the same records, lines and bad lines
as reading each file in the step's own process, whatever the files hold."""

import datetime as dt
import fcntl
import gzip
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.activedata.assets import SCHEMA
from ci_assets.defs.activedata.day_files import read_day_files
from ci_assets.defs.activedata.line_parser import LineParser, ParserExitedError
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
@given(st.lists(_file(), min_size=1, max_size=len(KEYS)), st.integers(1, 2))
def test_the_parsers_read_every_file_as_the_step_itself_would(bodies: list[bytes], parsers: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = LocalObjectStoreResource(root=root, fsync=False)
        store.create_bucket(BUCKET)
        for key, body in zip(KEYS, bodies, strict=False):
            store.put(BUCKET, key, body)
        files = [(DAY, key, None) for key in KEYS[: len(bodies)]]
        got = read_day_files(store, BUCKET, files, threads=4, parsers=parsers, schema=SCHEMA)

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
    got = read_day_files(store, BUCKET, files, threads=2, parsers=1, schema=SCHEMA)
    assert got.records["_id"].to_list() == ["tc.1623116:162311550.34.0"]
    assert got.states == [(KEYS[0], "e0", "ingested"), (KEYS[1], "e1", "gone"), ("not-a-lineage.txt", "e2", "rejected")]
    assert got.gone == 1 and [r.reason.split(":")[0] for r in got.rejected] == ["key breaks the convention"]


def test_a_parser_that_dies_fails_the_read_and_leaves_no_process() -> None:
    with LineParser(1) as parser:
        (process,) = parser._processes
        process.popen.kill()
        process.popen.wait()
        with pytest.raises(ParserExitedError):
            parser.submit(0, b"x" * (4 << 20))  # more than a pipe holds
            parser.results()
    assert process.popen.poll() is not None and process.popen.stdout.closed


def test_a_file_and_its_reply_cross_the_pipes_in_one_write() -> None:
    """The pipes are widened to 1 MB (a thousand records' reply is about 150 KB), where Linux allows it."""
    with LineParser(1) as parser:
        (process,) = parser._processes
        sizes = {fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) for pipe in (process.popen.stdin, process.popen.stdout)}
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    assert sizes == {1 << 20 if limit >= 1 << 20 else 1 << 16}, sizes


def test_files_sent_from_many_threads_at_once_come_back_whole() -> None:
    """The download threads send their bodies themselves: no request interleaves with another."""
    bodies = [gzip.compress(b"".join(b'{"_id": "f%d.%d"}\n' % (n, i) for i in range(n % 50))) for n in range(300)]
    with LineParser(2) as parser, ThreadPoolExecutor(16) as pool:
        list(pool.map(parser.submit, range(len(bodies)), bodies))
        got = parser.results()
    assert sorted(got) == list(range(len(bodies)))
    for n, body in enumerate(bodies):
        expected = read_records(body)
        assert got[n].count == len(expected.ids) and got[n].ids == "".join(expected.ids).encode()


def test_a_parser_dying_mid_day_fails_the_read_from_the_download_threads(tmp_path, monkeypatch) -> None:
    """The first file a thread sends finds its parser dead: the read raises, and no parser outlives it."""
    store = LocalObjectStoreResource(root=str(tmp_path), fsync=False)
    store.create_bucket(BUCKET)
    for key in KEYS:
        store.put(BUCKET, key, gzip.compress(b'{"_id": "tc.1623116:162311550.34.0"}\n' * 1000))
    started: list[LineParser] = []
    submit = LineParser.submit

    def kill_then_submit(self: LineParser, number: int, body: bytes) -> None:
        if not started:
            started.append(self)
            for process in self._processes:
                process.popen.kill()
                process.popen.wait()
        submit(self, number, body)

    monkeypatch.setattr(LineParser, "submit", kill_then_submit)
    with pytest.raises(ParserExitedError):
        read_day_files(store, BUCKET, [(DAY, key, None) for key in KEYS], threads=4, parsers=2, schema=SCHEMA)
    assert all(p.popen.poll() is not None and p.popen.stdout.closed for p in started[0]._processes)
