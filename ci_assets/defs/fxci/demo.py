"""Demo pulse messages for the local default, queued on kombu's filesystem transport."""

import datetime as dt
import json
import random
from collections.abc import Iterable
from typing import Any

import kombu

from ci_assets.defs.fxci.drain import broker_name, queue_name
from ci_assets.defs.fxci.pulse_rows import EXCHANGES
from ci_assets.defs.fxci.samples import message
from ci_assets.defs.fxci.settings import LOCAL_BUCKET, WORKER_PROJECTS
from ci_assets.lib.launch import DemoRun

MESSAGES = 1500


def seed_uptime(store: Any, days: int = 7, instances: int = 25) -> int:
    """Uptime series for the last `days` days, in the shape Cloud Monitoring returns them."""
    rng = random.Random(7)
    written = 0
    today = dt.datetime.now(dt.UTC).date()
    for back in range(days):
        day = today - dt.timedelta(days=back)
        for project in WORKER_PROJECTS:
            key = f"uptime/{project}/{day.isoformat()}.json"
            if store.head(LOCAL_BUCKET, key) is not None:
                continue
            series = [
                {
                    "resource": {
                        "type": "gce_instance",
                        "labels": {
                            "project_id": project,
                            "zone": rng.choice(["us-central1-b", "us-west1-a"]),
                            "instance_id": str(rng.getrandbits(60)),
                        },
                    },
                    "points": [{"value": {"double_value": round(rng.uniform(600, 86_400), 2)}}],
                }
                for _ in range(instances)
            ]
            store.put(LOCAL_BUCKET, key, json.dumps(series).encode())
            written += 1
    return written


def publish(conn: kombu.Connection, user: str, name: str, bodies: Iterable[bytes]) -> None:
    """Queue `bodies` on the exchange `name` names, as Taskcluster would, for `user`'s drain."""
    exchange = kombu.Exchange(broker_name(conn, EXCHANGES[name]), type="topic", durable=True)
    queue = kombu.Queue(broker_name(conn, queue_name(user, name)), exchange, routing_key="#")
    producer = conn.Producer()
    for body in bodies:
        producer.publish(
            body,
            exchange=exchange,
            routing_key="primary",
            declare=[queue],
            content_type="application/json",
            content_encoding="binary",
        )


def seed_demo(resources: dict[str, Any]) -> str:
    uptime_files = seed_uptime(resources["object_store"])
    billing_rows = seed_billing(resources["sql"].warehouse_dir)
    pulse = resources["pulse"]
    with pulse.connection() as conn:
        marker = conn.transport_options["data_folder_in"] + "/../.demo-seeded"
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            return f"pulse messages already queued once; {uptime_files} new uptime files, {billing_rows} billing rows"
        rng = random.Random(2024)
        now = dt.datetime.now(dt.UTC)
        for name in EXCHANGES:
            bodies = [
                json.dumps(message(rng, name, now - dt.timedelta(minutes=i))).encode()
                for i in range(MESSAGES // len(EXCHANGES))
            ]
            publish(conn, pulse.user, name, [*bodies, b"{broken"])
    return (
        f"{MESSAGES} pulse messages (and 3 broken ones) queued for the fxci drain; {uptime_files} uptime files; "
        f"{billing_rows} billing rows"
    )


def seed_billing(warehouse_dir: str, days: int = 7) -> int:
    """A week of GCP and Azure billing rows as Parquet in the local warehouse, for worker_costs_v1."""
    from pathlib import Path

    import polars as pl

    from ci_assets.defs.fxci.worker_costs import BILLING_SOURCES

    warehouse = Path(warehouse_dir)
    target = warehouse.joinpath(*BILLING_SOURCES["gcp_billing"].split("."))
    if target.exists():
        return 0
    rng = random.Random(11)
    today = dt.datetime.now(dt.UTC).date()
    gcp, azure = [], []
    for back in range(days):
        day = today - dt.timedelta(days=back)
        for i in range(200):
            project = rng.choice([*WORKER_PROJECTS, "moz-fx-data-other"])
            kind = "instances" if rng.random() < 0.85 else "disks"
            zone = rng.choice(["us-central1-b", "us-west1-a"])
            gcp.append(
                {
                    "project": {"id": project},
                    "resource": {
                        "name": f"projects/{project}/{kind}/worker-{i}",
                        "global_name": f"//compute.googleapis.com/projects/{project}/zones/{zone}/{kind}/{i}",
                    },
                    "usage_start_time": dt.datetime.combine(day, dt.time(rng.randint(0, 23)), dt.UTC),
                    "cost": round(rng.uniform(0.01, 3.0), 4),
                    "credits": [{"name": "SUD", "amount": -round(rng.uniform(0, 0.5), 4)}]
                    if rng.random() < 0.5
                    else [],
                }
            )
            vm = f"vm-{i:04d}" if rng.random() < 0.8 else f"disk-{i:04d}"
            kind = "virtualMachines" if vm.startswith("vm-") else "disks"
            azure.append(
                {
                    "sourceDataId": rng.choice(["fxci", "tc"]),
                    "date": day,
                    "ResourceId": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/{kind}/{vm}",
                    "resourceLocation": rng.choice(["westus2", "eastus"]),
                    "costInBillingCurrency": round(rng.uniform(0.01, 2.0), 4),
                    "chargeType": "Usage" if rng.random() < 0.95 else "Purchase",
                }
            )
    frames = {
        "gcp_billing": pl.DataFrame(gcp),
        "azure_fxci_load": pl.DataFrame([a for a in azure if a["sourceDataId"] == "fxci"]),
        "azure_fxci_lookup": pl.DataFrame({"sourceDataId": ["fxci"], "subscriptionName": ["FXCI Azure"]}),
        "azure_taskcluster_load": pl.DataFrame([a for a in azure if a["sourceDataId"] == "tc"]),
        "azure_taskcluster_lookup": pl.DataFrame({"sourceDataId": ["tc"], "subscriptionName": ["Taskcluster Azure"]}),
    }
    for name, frame in frames.items():
        path = warehouse.joinpath(*BILLING_SOURCES[name].split("."))
        path.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path / "data.parquet")
    return len(gcp) + len(azure)


def demo_runs(today: dt.date) -> list[DemoRun]:
    """Today's drain of the demo messages, and yesterday's worker tables (as the morning schedule does)."""
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    return [
        DemoRun("the pulse drain, today", "fxci", job="fxci_pulse", partition=today.isoformat()),
        DemoRun("the worker tables, yesterday", "fxci", job="fxci_workers_daily", partition=yesterday),
    ]
