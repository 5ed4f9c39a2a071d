"""Drain the Taskcluster pulse queues: read, classify, and hand back the messages un-acked.

The caller stores the rows durably and only then acks (`Drained.ack`), so a crash in
between means redelivery, which the tables' primary-key upserts absorb.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

import kombu
from amqp.exceptions import NotFound

from ci_assets.defs.fxci.pulse_rows import EXCHANGES, Ignored, Quarantined, Rows, Unscheduled, rows_for
from ci_assets.lib import quarantine
from ci_assets.lib.reconciliation import Tally


class UnknownExchangeError(RuntimeError):
    pass


@dataclasses.dataclass
class ExchangeTally(Tally):
    """One exchange's messages: the platform's five counts, and what the accepted ones became."""

    run_rows: int = 0  # messages that became a task run row (and, for run 0, a task row)
    unscheduled: int = 0  # messages about a task without a run, recorded in fxci.unscheduled_tasks


@dataclasses.dataclass
class Drained:
    runs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tasks: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # The exchange each run row and each task row came from, in the same order.
    run_exchanges: list[str] = dataclasses.field(default_factory=list)
    task_exchanges: list[str] = dataclasses.field(default_factory=list)
    unscheduled: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (task id, exchange)
    rejected: list[quarantine.Rejected] = dataclasses.field(default_factory=list)
    tallies: dict[str, ExchangeTally] = dataclasses.field(default_factory=dict)
    messages: list[Any] = dataclasses.field(default_factory=list)
    # What this drain has already taken in: a redelivered or repeated message is a duplicate.
    seen: set[tuple[str, ...]] = dataclasses.field(default_factory=set)

    def ack(self) -> None:
        for message in self.messages:
            message.ack()


def broker_name(connection: kombu.Connection, name: str) -> str:
    """Pulse's names as the broker takes them: kombu's filesystem transport keeps exchanges and
    queues as files, so its slashes become dots."""
    return name.replace("/", ".") if connection.transport_cls == "filesystem" else name


def queue_name(user: str, name: str) -> str:
    return f"queue/{user}/{name}"


def _declare(connection: kombu.Connection, channel: Any, user: str, name: str, exchange_name: str) -> Any:
    # Production exchanges belong to Taskcluster: declare them passively so a wrong name is an
    # error, not a new empty exchange. The local filesystem transport keeps no shared state.
    passive = connection.transport_cls != "filesystem"
    exchange_name = broker_name(connection, exchange_name)
    exchange = kombu.Exchange(exchange_name, type="topic", durable=True, passive=passive)
    try:
        exchange(channel).declare()
    except NotFound as err:
        raise UnknownExchangeError(
            f"exchange {exchange_name!r} does not exist on the broker; pulse publishes to it, this drain "
            "only reads (check the broker URL and vhost)"
        ) from err
    queue = kombu.Queue(broker_name(connection, queue_name(user, name)), exchange, routing_key="#", durable=True)
    bound = queue(channel)
    bound.declare()
    return bound


def drain(
    connection: kombu.Connection,
    user: str,
    submission_date: dt.date,
    max_messages: int,
    exchanges: dict[str, str] = EXCHANGES,
) -> Drained:
    """Up to `max_messages` per exchange, until each queue is empty; nothing is acked here."""
    drained = Drained()
    channel = connection.channel()
    for name, exchange_name in exchanges.items():
        queue = _declare(connection, channel, user, name, exchange_name)
        tally = drained.tallies.setdefault(name, ExchangeTally())
        while tally.received < max_messages:
            message = queue.get(no_ack=False)
            if message is None:
                break
            tally.received += 1
            drained.messages.append(message)
            _classify(drained, tally, name, exchange_name, message, submission_date)
    return drained


def _classify(drained: Drained, tally: ExchangeTally, name: str, exchange: str, message: Any, day: dt.date) -> None:
    body = message.body if isinstance(message.body, bytes | str) else bytes(message.body)
    outcome = rows_for(body, day)
    if isinstance(outcome, Rows):
        key = ("run", str(outcome.run["task_id"]), str(outcome.run["run_id"]))
        if key in drained.seen:
            tally.duplicate += 1  # the upsert keeps one row per (task_id, run_id): the latest message's
        else:
            drained.seen.add(key)
            tally.accepted += 1
            tally.run_rows += 1
        drained.runs.append(outcome.run)
        drained.run_exchanges.append(name)
        if outcome.task is not None:
            drained.tasks.append(outcome.task)
            drained.task_exchanges.append(name)
    elif isinstance(outcome, Unscheduled):
        key = ("unscheduled", outcome.task_id)
        if key in drained.seen:
            tally.duplicate += 1
        else:
            drained.seen.add(key)
            tally.accepted += 1
            tally.unscheduled += 1
            drained.unscheduled.append((outcome.task_id, name))
    elif isinstance(outcome, Ignored):
        tally.ignored += 1
    elif isinstance(outcome, Quarantined):
        tally.rejected += 1
        # Named by content, so a redelivered message lands on the same quarantine row.
        digest = hashlib.sha1(body if isinstance(body, bytes) else body.encode(), usedforsecurity=False).hexdigest()
        drained.rejected.append(
            quarantine.Rejected(
                locator=f"{exchange}#{digest}",
                reason=outcome.reason,
                raw=body,
                detail={"exchange": exchange, "routing_key": message.delivery_info.get("routing_key")},
                partition=day.isoformat(),
            )
        )
