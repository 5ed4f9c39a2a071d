"""Alerts reach the team: a failed run and a check failed at ERROR are posted to a local HTTP server
standing in for Slack's Web API (slack_sdk's real client sends them); one that refuses or hangs is
retried, logged, and blocks nothing."""

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ci_assets.definitions import build_definitions
from ci_assets.lib import env
from ci_assets.lib.alerts import CHECK_FAILURE_SENSOR, RUN_FAILURE_SENSOR, SlackAlerts, slack_on_check_failure
from ci_assets.lib.alerts import slack_on_run_failure as run_failure_sensor
from ci_assets_tests.services.network import free_port

TOKEN = "xoxb-not-a-real-token"
DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")


class FakeSlack:
    """chat.postMessage over real HTTP: records what arrives; `mode` answers ok, 500, or hangs."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.mode = "ok"
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.posts.append({"path": self.path, "auth": self.headers.get("Authorization"), **json.loads(body)})
                if fake.mode == "hang":
                    time.sleep(3)
                status, answer = (500, {"ok": False}) if fake.mode == "refuse" else (200, {"ok": True})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeSlack":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    monkeypatch.setenv("CI_ASSETS_SLACK_TOKEN", TOKEN)  # read when a message is sent
    with FakeSlack() as fake:
        yield fake


def alerts_for(slack: FakeSlack, tmp_path: Path) -> SlackAlerts:
    defs = build_definitions(
        env.read(
            {
                "CI_ASSETS_HOME": str(tmp_path),
                "CI_ASSETS_SLACK_CHANNEL": "#ci-alerts",
                "CI_ASSETS_SLACK_TOKEN": TOKEN,
                "CI_ASSETS_SLACK_API_URL": slack.url,
                "CI_ASSETS_WEBSERVER_URL": "http://dagster.example:3000",
            }
        )
    )
    assert {RUN_FAILURE_SENSOR, CHECK_FAILURE_SENSOR} <= {s.name for s in defs.sensors}
    resource = defs.resources["slack_alerts"]
    assert isinstance(resource.token, dg.EnvVar)  # the token is never config
    return SlackAlerts(
        channel=resource.channel,
        token=resource.token.get_value(),
        api_url=resource.api_url,
        webserver_url=resource.webserver_url,
        timeout_seconds=1,
    )


@dg.asset(partitions_def=DAYS)
def broken(context: dg.AssetExecutionContext) -> None:
    raise ValueError(f"no dump for {context.partition_key}")


@dg.asset(
    partitions_def=DAYS,
    check_specs=[dg.AssetCheckSpec("reconciles", asset="checked"), dg.AssetCheckSpec("advisory", asset="checked")],
)
def checked() -> Iterator[object]:
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="reconciles", passed=False, severity=dg.AssetCheckSeverity.ERROR)
    yield dg.AssetCheckResult(check_name="advisory", passed=False, severity=dg.AssetCheckSeverity.WARN)


@dg.asset(partitions_def=DAYS, check_specs=[dg.AssetCheckSpec("advisory", asset="calm")])
def calm() -> Iterator[object]:
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="advisory", passed=False, severity=dg.AssetCheckSeverity.WARN)


def test_the_sensors_are_there_only_when_a_channel_is_named(tmp_path: Path) -> None:
    names = {s.name for s in build_definitions(env.read({"CI_ASSETS_HOME": str(tmp_path)})).sensors}
    assert not {RUN_FAILURE_SENSOR, CHECK_FAILURE_SENSOR} & names


def test_a_failed_run_is_posted_with_its_job_asset_partition_and_link(slack: FakeSlack, tmp_path: Path) -> None:
    alerts = alerts_for(slack, tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize([broken], partition_key="2026-12-01", instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
            resources={"slack_alerts": alerts},
        ).for_run_failure()
        run_failure_sensor(context)
    [post] = slack.posts
    assert post["path"] == "/api/chat.postMessage" and post["channel"] == "#ci-alerts"
    assert post["auth"] == f"Bearer {TOKEN}" and TOKEN not in post["text"]
    assert f"job `{run.job_name}`" in post["text"] and "assets broken" in post["text"]
    assert "partition 2026-12-01" in post["text"]
    assert f"<http://dagster.example:3000/runs/{run.run_id}|Open the run>" in post["text"]


def check_tick(instance: dg.DagsterInstance, run_id: str, alerts: SlackAlerts) -> None:
    run = instance.get_run_by_id(run_id)
    [success] = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    context = dg.build_run_status_sensor_context(
        sensor_name=CHECK_FAILURE_SENSOR,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=success.event_log_entry.get_dagster_event(),
        resources={"slack_alerts": alerts},
    )
    slack_on_check_failure(context)


def test_a_check_failed_at_error_is_posted_and_a_warning_is_not(slack: FakeSlack, tmp_path: Path) -> None:
    alerts = alerts_for(slack, tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize([checked], partition_key="2026-12-02", instance=instance)
        check_tick(instance, result.run_id, alerts)
        quiet = dg.materialize([calm], partition_key="2026-12-02", instance=instance)
        check_tick(instance, quiet.run_id, alerts)  # its only failed check is a warning: nothing posted
    [post] = slack.posts
    assert "Check failed: `reconciles` on asset checked;" in post["text"] and "advisory" not in post["text"]
    assert "partition 2026-12-02" in post["text"] and result.run_id in post["text"]


@pytest.mark.parametrize("mode", ["refuse", "hang", "closed"])
def test_a_slack_that_refuses_or_hangs_is_retried_logged_and_blocks_nothing(
    slack: FakeSlack, tmp_path: Path, mode: str
) -> None:
    alerts = alerts_for(slack, tmp_path)
    if mode == "closed":
        alerts = alerts.model_copy(update={"api_url": f"http://127.0.0.1:{free_port()}/api/"})
    slack.mode = mode
    with dg.instance_for_test() as instance:
        result = dg.materialize([checked], partition_key="2026-12-03", instance=instance)
        started = time.monotonic()
        check_tick(instance, result.run_id, alerts)  # returns: the tick ends, the next run is looked at
        assert time.monotonic() - started < 30
    if mode != "closed":
        assert len(slack.posts) == 3  # the first try and two retries
    warnings: list[str] = []
    log = type("Log", (), {"warning": lambda self, message: warnings.append(message)})()
    assert alerts.post("a test alert", log) is False
    [warning] = warnings
    assert warning.startswith("the alert did not reach Slack (") and warning.endswith("): a test alert")
