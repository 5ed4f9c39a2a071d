"""The suite's servers are real and isolated, and a missing one fails loudly."""

import uuid

import boto3
import kombu
import psycopg
import pytest

from ci_assets_tests.conftest import RabbitMQ, require_server
from ci_assets_tests.services.network import free_port


def test_rabbitmq_vhost_carries_messages(rabbitmq: RabbitMQ) -> None:
    exchange = kombu.Exchange(f"{rabbitmq.prefix}.probe", type="topic")
    queue = kombu.Queue(f"{rabbitmq.prefix}.probe", exchange=exchange, routing_key="#")
    with kombu.Connection(rabbitmq.url) as conn:
        queue(conn.channel()).declare()
        conn.Producer().publish({"n": 1}, exchange=exchange, routing_key="a.b", declare=[queue])
        message = queue(conn.channel()).get(no_ack=False)
        assert message is not None and message.payload == {"n": 1}
        message.ack()
        assert queue(conn.channel()).get() is None


def test_moto_serves_s3_event_notifications_to_sqs(moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    bucket = f"probe-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    s3.put_object(Bucket=bucket, Key="a b/buildhub.json", Body=b"{}")
    bodies = []
    for _ in range(5):
        bodies += [
            m["Body"] for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        ]
        if any("ObjectCreated" in b for b in bodies):
            break
    assert "s3:TestEvent" in bodies[0]  # the first message is a test event
    assert any("a+b%2Fbuildhub.json" in b for b in bodies), bodies  # keys arrive URL-encoded


def test_each_session_gets_its_own_database(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
    assert name.startswith("ci_assets_test_") and name != "test"


def test_an_unreachable_service_fails_with_how_to_start_it() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"RabbitMQ at 127\.0\.0\.1:\d+ is not reachable.*rabbitmq-server"):
        require_server("RabbitMQ", "127.0.0.1", free_port())


def test_a_server_that_ignores_its_signal_is_killed_with_its_children_after_the_grace() -> None:
    """A teardown never waits on a server: past the grace the whole process group is SIGKILLed."""
    import subprocess
    import sys
    import time

    from ci_assets_tests.services import processes

    stubborn = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    server = processes.start([sys.executable, "-c", stubborn], stdout=subprocess.PIPE, text=True)
    child = int(server.stdout.readline())
    started = time.monotonic()
    assert processes.stop(server, grace=0.5) == -9
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
