"""Seeds the cloud environment the topology test runs against (moto's S3, PostgreSQL, RabbitMQ), with
the demo's own generators, in the environment of the installed package: run as a script by its
Python, with the code location's variables. Prints `seeded <what>` lines."""

from __future__ import annotations

import datetime as dt
import json
import random
import sys

import dagster as dg

from ci_assets.defs.activedata.demo import seed_demo as seed_activedata
from ci_assets.defs.aggregates.demo import seed_demo as seed_aggregates
from ci_assets.defs.buildhub.samples import encode, key_for, make_document
from ci_assets.defs.fxci.demo import publish
from ci_assets.defs.fxci.pulse_rows import EXCHANGES
from ci_assets.defs.fxci.samples import message
from ci_assets.defs.resources import resources_for
from ci_assets.lib import env


def main(aggregate_days: int, builds: int, messages: int, now: dt.datetime) -> None:
    # Built as a run builds them, so the secrets (DSNs, the pulse URL) are read from the environment.
    wanted = ("object_store", "lake_io_manager", "aggregates_source", "postgres", "activedata_settings",
              "buildhub_settings", "pulse")  # fmt: skip
    with dg.build_resources({k: v for k, v in resources_for(env.read()).items() if k in wanted}) as built:
        seed({k: getattr(built, k) for k in wanted}, aggregate_days, builds, messages, now)


def seed(resources: dict, aggregate_days: int, builds: int, messages: int, now: dt.datetime) -> None:
    """`now` stamps the pulse messages: the same clock seeds the same messages (local_twin.py)."""
    store = resources["object_store"]
    for bucket in (resources["lake_io_manager"].bucket, resources["aggregates_source"].bucket):
        store.create_bucket(bucket)
    print("seeded", seed_activedata(resources), flush=True)
    print("seeded", seed_aggregates(resources, days=aggregate_days), flush=True)
    bucket, rng = resources["buildhub_settings"].bucket, random.Random(2018)
    store.create_bucket(bucket)
    for _ in range(builds):
        document = make_document(rng)
        store.put(bucket, key_for(document), encode(document))
    print(f"seeded {builds} buildhub.json in {bucket}", flush=True)
    pulse = resources["pulse"]
    with pulse.connection() as conn:
        for name in EXCHANGES:
            bodies = [json.dumps(message(rng, name, now - dt.timedelta(minutes=i))).encode() for i in range(messages)]
            publish(conn, pulse.user, name, bodies)
    print(f"seeded {messages * len(EXCHANGES)} pulse messages", flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]), dt.datetime.fromisoformat(sys.argv[4]))
