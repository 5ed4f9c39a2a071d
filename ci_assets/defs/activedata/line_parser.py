"""ActiveData files read in a process of its own, through records.py's `read_columns`.

Parsing a day was about 2.5 CPU-seconds of orjson and Python per million lines (most lines now
go through the C pass, `_json_lines`), all of it under the GIL: in the run's process, the
download threads waited behind it for the GIL they need for every request, and the two together
cost more CPU than each alone (bench/activedata_read.py). Here they run side by side. The
process starts in a tenth of a second (it loads records.py by its path, never Dagster), reads
the step's files in the order they are sent, and answers each with its records as columns: the
`_id`s and the records' text as one UTF-8 buffer and offsets each (Arrow's layout, so the step
builds its frame without a Python object per record), the line numbers, and the bad lines.

    request: file number (u32), body size (u64), body
    reply:   file number (u32), the six parts' sizes (u64 each), the parts (the bad lines pickled)

The reply's buffers are written and read as they are: a pickle would copy the day's text once
more on each side.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import importlib.util
import itertools
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_RECORDS = Path(__file__).with_name("records.py")
_FREED_MEMORY = Path(__file__).parents[2] / "lib" / "freed_memory.py"
_REQUEST = struct.Struct("<IQ")
_REPLY = struct.Struct("<I6Q")
_PIPE_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Columns:
    """One file's records: `ids` and `records` are UTF-8 text cut by int64 `*_offsets` (n + 1 of
    them), `lines` int64; `bad` as (line, reason, raw)."""

    ids: bytes
    id_offsets: bytes
    lines: bytes
    records: bytes
    record_offsets: bytes
    bad: list[tuple[int, str, bytes]]

    @property
    def count(self) -> int:
        return len(self.lines) // 8


def _load(name: str, path: Path) -> Any:
    """A module by its path: the package's `__init__` would import Dagster."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _serve() -> None:
    _load("freed_memory", _FREED_MEMORY).keep_freed_memory()  # a file's buffers are freed and made again each time
    records = _load("activedata_records", _RECORDS)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    while header := requests.read(_REQUEST.size):
        number, size = _REQUEST.unpack(header)
        *buffers, bad = records.read_columns(requests.read(size))
        parts = [*buffers, pickle.dumps(bad)]
        replies.write(_REPLY.pack(number, *map(len, parts)))
        for part in parts:
            replies.write(part)
        replies.flush()


class ParserExitedError(RuntimeError):
    pass


def _widen(pipe: Any) -> None:
    """A pipe of 1 MB instead of 64 KB, where Linux allows it: a file's reply (about 150 KB for a
    thousand records) then crosses in one write instead of three turns of each process waking the
    other. Measured: the parsers' CPU 13% less, the day's parse 15% sooner."""
    # Not Linux, or above /proc/sys/fs/pipe-max-size: 64 KB works too.
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


class _Process:
    """One parsing process; its replies are read as they come, so neither pipe fills while the other waits."""

    def __init__(self, replies: dict[int, Columns]) -> None:
        self.popen = subprocess.Popen([sys.executable, "-P", __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for pipe in (self.popen.stdin, self.popen.stdout):
            _widen(pipe)
        self.replies = replies
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, name="activedata line parser", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        while len(header := self.popen.stdout.read(_REPLY.size)) == _REPLY.size:
            number, *sizes = _REPLY.unpack(header)
            parts = [self.popen.stdout.read(size) for size in sizes]
            if [len(part) for part in parts] != sizes:
                return  # cut short: the process died (results() says which files have no reply)
            self.replies[number] = Columns(*parts[:5], pickle.loads(parts[5]))

    def send(self, number: int, body: bytes) -> None:
        assert self.popen.stdin is not None
        try:
            with self.lock:
                self.popen.stdin.write(_REQUEST.pack(number, len(body)))
                self.popen.stdin.write(body)
        except BrokenPipeError as e:
            raise ParserExitedError(f"a line parser exited ({self.popen.wait()})") from e

    def finish(self) -> None:
        assert self.popen.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.popen.stdin.close()
        self.reader.join()
        if code := self.popen.wait():
            raise ParserExitedError(f"a line parser exited with {code}")

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        self.reader.join()
        for pipe in (self.popen.stdin, self.popen.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()


class LineParser:
    """`submit` each file's body with its number, then `results()`: number → Columns. Files go to
    `processes` processes in turn. A context manager: no process outlives it."""

    def __init__(self, processes: int) -> None:
        self._replies: dict[int, Columns] = {}
        self._sent = 0
        self._lock = threading.Lock()
        self._processes: list[_Process] = []
        try:
            for _ in range(processes):
                self._processes.append(_Process(self._replies))
        except BaseException:
            self.close()
            raise
        self._turn = itertools.cycle(self._processes)

    def submit(self, number: int, body: bytes) -> None:
        """Safe from any thread: a file's request is written whole under its process's lock."""
        with self._lock:
            process = next(self._turn)
            self._sent += 1
        process.send(number, body)

    def results(self) -> dict[int, Columns]:
        for process in self._processes:
            process.finish()
        if len(self._replies) != self._sent:
            raise ParserExitedError(f"the line parsers answered {len(self._replies)} of {self._sent} files")
        return self._replies

    def close(self) -> None:
        for process in self._processes:
            process.close()

    def __enter__(self) -> LineParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    _serve()
