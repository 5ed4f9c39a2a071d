"""Demo pulse messages for the local default, queued on kombu's filesystem transport."""

import datetime as dt
import json
import random

import kombu

from ci_assets.defs.fxci.drain import broker_name, queue_name
from ci_assets.defs.fxci.pulse_rows import EXCHANGES
from ci_assets.defs.fxci.samples import message
from ci_assets.defs.resources import local_resources

MESSAGES = 1500


def seed_demo() -> str:
    pulse = local_resources()["pulse"]
    with pulse.connection() as conn:
        marker = conn.transport_options["data_folder_in"] + "/../.demo-seeded"
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            return "pulse messages already queued once (drain them in the UI: fxci/task_runs_v1)"
        rng = random.Random(2024)
        producer = conn.Producer()
        now = dt.datetime.now(dt.UTC)
        for name, exchange_name in EXCHANGES.items():
            exchange = kombu.Exchange(broker_name(conn, exchange_name), type="topic", durable=True)
            queue = kombu.Queue(broker_name(conn, queue_name(pulse.user, name)), exchange, routing_key="#")
            for i in range(MESSAGES // len(EXCHANGES)):
                body = message(rng, name, now - dt.timedelta(minutes=i))
                producer.publish(
                    json.dumps(body).encode(),
                    exchange=exchange,
                    routing_key="primary",
                    declare=[queue],
                    content_type="application/json",
                    content_encoding="binary",
                )
            producer.publish(
                b"{broken",
                exchange=exchange,
                routing_key="primary",
                declare=[queue],
                content_type="application/json",
                content_encoding="binary",
            )
    return f"{MESSAGES} pulse messages (and 3 broken ones) queued for the fxci drain"
