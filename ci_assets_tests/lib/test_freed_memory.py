"""Freed memory kept in the heap: the same work, without faulting its pages in again each time."""

import subprocess
import sys
from pathlib import Path

import ci_assets

LIB = Path(ci_assets.__file__).parent / "lib" / "freed_memory.py"
JSON_LINES = next((Path(ci_assets.__file__).parent / "defs" / "activedata").glob("_json_lines.*.so"))

# ActiveData's work on its files (each inflated, then read by the C pass, one after another, as `read_columns`
# does), in a process that loads nothing else (Dagster's import would leave a heap that hides the effect); prints
# the process's minor page faults.
WORK = """
import gzip, importlib.util, resource, sys
from isal import igzip
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
if sys.argv[3] == "keep":
    load("freed_memory", sys.argv[1]).keep_freed_memory()
json_lines = load("_json_lines", sys.argv[2])
line = b'{"_id": "tc.%d", "run": {"suite": "xpcshell", "chunk": %d}, "pad": "%s"}\\n'
lines = b"".join(line % (n, n, b"x" * (n % 400)) for n in range(1000))
bodies = [gzip.compress(lines[: len(lines) - n * 97]) for n in range(20)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    for body in bodies:
        json_lines.read_lines(igzip.decompress(body))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-P", "-c", WORK, str(LIB), str(JSON_LINES), mode], check=True, capture_output=True, text=True
    )
    return int(out.stdout)


def test_reading_files_over_and_over_stops_faulting_in_pages() -> None:
    default, kept = _faults("default"), _faults("keep")
    assert default > 5_000 and kept * 10 < default, (default, kept)
