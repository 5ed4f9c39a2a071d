"""Buildhub /api/search over 100,000 builds: a typical UI query against a primary-key lookup.

Both go over HTTP to the same uvicorn server and PostgreSQL (127.0.0.1:5432). The
UI query filters by product and channel and a version prefix, sorts by download
date and asks for the aggregations the UI's facets show; the lookup is a `term` on
`build.id`. Target: UI query p95 <= 5x the lookup's p95.

    python bench/buildhub_search.py [--builds 100000] [--requests 300]

At 2,000,000 builds (`--builds 2000000`) generating and storing them takes about 7 minutes (no target
there: the figure is for docs/scale.md).
"""

import argparse
import random
import statistics
import time

import httpx
import psycopg

from ci_assets_tests.services.search_site import search_site


def ui_query(rng: random.Random) -> dict[str, object]:
    product, channel = rng.choice([("firefox", "release"), ("firefox", "beta"), ("thunderbird", "release")])
    return {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"source.product": product}},
                    {"term": {"target.channel": channel}},
                    {"prefix": {"target.version": str(rng.randint(6, 13))}},
                ]
            }
        },
        "sort": [{"download.date": "desc"}],
        "size": 30,
        "aggs": {
            "platforms": {"terms": {"field": "target.platform", "size": 20}},
            "locales": {"terms": {"field": "target.locale", "size": 50}},
            "versions": {"cardinality": {"field": "target.version"}},
        },
    }


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--builds", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    started = time.perf_counter()
    with search_site(args.builds, seed=100, name="bench_search", keep=10 * args.requests) as site:
        with psycopg.connect(site.dsn) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        print(f"{args.builds:,} builds generated, stored and analysed in {time.perf_counter() - started:.0f} s; "
              f"the database holds {size / 1e9:.2f} GB ({size / args.builds:,.0f} B a build, indexed)")  # fmt: skip
        rng, documents = random.Random(101), site.documents
        url = f"{site.url}/api/search"
        with httpx.Client(timeout=60) as client:
            ids = [d["build"]["id"] for d in rng.sample(documents, args.requests)]

            def timed(body: dict[str, object]) -> float:
                t0 = time.perf_counter()
                response = client.post(url, json=body)
                elapsed = time.perf_counter() - t0
                assert response.status_code == 200, response.text
                return elapsed * 1000

            for _ in range(20):  # warm the pool and the caches
                timed(ui_query(rng))
                timed({"query": {"term": {"build.id": ids[0]}}, "size": 1})
            lookups = [timed({"query": {"term": {"build.id": i}}, "size": 1}) for i in ids]
            queries = [timed(ui_query(rng)) for _ in range(args.requests)]
            sample = client.post(url, json=ui_query(random.Random(1))).json()
    print(f"/api/search over {args.builds:,} builds (uvicorn + PostgreSQL at 127.0.0.1), {args.requests} requests each")
    print(f"  primary-key lookup (term build.id): p50 {statistics.median(lookups):6.2f} ms  p95 {p95(lookups):6.2f} ms")
    print(
        f"  UI query (3 filters, sort, 3 aggs): p50 {statistics.median(queries):6.2f} ms  p95 {p95(queries):6.2f} ms"
        f"  (e.g. {sample['hits']['total']} hits)"
    )
    print(f"ratio of p95: {p95(queries) / p95(lookups):.2f}x (target <= 5x)")


if __name__ == "__main__":
    main()
