"""Buildhub's search server through a PostgreSQL outage (a server of the bench's own, stopped and
started again): seconds from the stop to a failing `/__heartbeat__` (target: within 5 s), what the
API and the page answer meanwhile, and seconds from the start to the first 200, over several rounds.

    python bench/buildhub_outage.py [--rounds 5]
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets_tests.services.databases import restartable_postgres
from ci_assets_tests.services.search_site import serve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    failing, answered, back = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-outage-", dir="/var/tmp") as tmp:
        Path(tmp).chmod(0o755)  # the embedded server runs as its own user when this runs as root
        with restartable_postgres(Path(tmp) / "pgdata") as server:
            with psycopg.connect(server.dsn) as conn:
                store.ensure_schema(conn)
                documents = [make_document(random.Random(n)) for n in range(100)]
                store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
            with serve(server.dsn) as url, httpx.Client(base_url=url, timeout=120) as client:
                for _ in range(args.rounds):
                    assert client.get("/__heartbeat__").status_code == 200
                    server.stop()
                    t0 = time.monotonic()
                    assert client.get("/__heartbeat__").status_code == 500
                    failing.append(time.monotonic() - t0)
                    t0 = time.monotonic()
                    api = client.post("/api/search", json={"size": 1})
                    answered.append(time.monotonic() - t0)
                    assert api.status_code == 503 and api.headers["Retry-After"]
                    server.start()
                    t0 = time.monotonic()
                    while client.get("/__heartbeat__").status_code != 200:
                        time.sleep(0.1)
                    back.append(time.monotonic() - t0)
    print(f"{args.rounds} outages of Buildhub's PostgreSQL under the search server")
    for name, seconds in (
        ("stop -> failing heartbeat", failing),
        ("stop -> /api/search 503", answered),
        ("start -> heartbeat 200", back),
    ):
        print(f"  {name:28s} median {statistics.median(seconds):5.2f} s, max {max(seconds):5.2f} s")


if __name__ == "__main__":
    main()
