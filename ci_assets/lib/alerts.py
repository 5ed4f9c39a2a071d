"""What reaches the team when something breaks: a run that failed, an asset check that failed at ERROR.

Two sensors post to a Slack channel (`chat.postMessage`, slack_sdk's client), switched on by
`CI_ASSETS_SLACK_CHANNEL`: Dagster's `run_failure_sensor`, and a `run_status_sensor` on runs that
succeeded yet evaluated a check that failed at ERROR. Each message names the job, the asset, the partition and links
the run's page. The token is a `dg.EnvVar` read when a message is sent (never config or a log line).

dagster-slack's `make_slack_on_run_failure_sensor` is not used: it builds its client for Slack's
fixed API URL when the code loads and takes the token as a plain string there, so it can neither be
pointed at a stand-in for Slack (tests, a proxy) nor keep the token out of the loaded definitions.

A Slack that refuses or hangs is retried a bounded number of times (slack_sdk's retry handlers),
then logged; the tick still ends and the cursor still moves, so an outage of Slack blocks nothing.
"""

from __future__ import annotations

from http.client import RemoteDisconnected
from urllib.error import URLError

import dagster as dg
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

from ci_assets.lib import retries

SLACK_API = "https://slack.com/api/"
RUN_FAILURE_SENSOR = "slack_on_run_failure"
CHECK_FAILURE_SENSOR = "slack_on_check_failure"
TIMEOUT_SECONDS = 5
RETRIES = 2


class SlackAlerts(dg.ConfigurableResource):
    """Where alerts go. `api_url` is Slack's unless a stand-in is named; `webserver_url` makes the links."""

    channel: str
    token: str
    api_url: str = SLACK_API
    webserver_url: str = "http://127.0.0.1:3000"
    timeout_seconds: float = TIMEOUT_SECONDS

    def post(self, text: str, log: dg.DagsterLogManager | None = None) -> bool:
        """Whether Slack took the message; a failure after the retries is logged, never raised."""
        # slack_sdk's backoff (0.5 s, 1 s …) as a share of the platform's pause (lib/retries.py).
        pause = BackoffRetryIntervalCalculator(backoff_factor=retries.BASE_SECONDS / 20)
        client = WebClient(
            token=self.token,
            base_url=self.api_url,
            timeout=int(max(1, self.timeout_seconds)),
            retry_handlers=[
                # slack_sdk's own list, and a read that timed out (a Slack that hangs).
                ConnectionErrorRetryHandler(
                    RETRIES,
                    interval_calculator=pause,
                    error_types=[URLError, ConnectionError, RemoteDisconnected, TimeoutError],
                ),
                ServerErrorRetryHandler(RETRIES, interval_calculator=pause),
            ],
        )
        try:
            client.chat_postMessage(channel=self.channel, text=text)
        except (SlackClientError, OSError) as err:
            if log is not None:
                log.warning(f"the alert did not reach Slack ({type(err).__name__}: {err}): {text}")
            return False
        return True

    def run_link(self, run_id: str) -> str:
        return f"{self.webserver_url.rstrip('/')}/runs/{run_id}"


def run_failure_text(alerts: SlackAlerts, instance: dg.DagsterInstance, run: dg.DagsterRun, error: str) -> str:
    failed = failed_checks(instance, run.run_id)
    checks = f"\nChecks failed at ERROR: {', '.join(failed)}." if failed else ""
    return (
        f"Run failed: job `{run.job_name}`, assets {_assets(instance, run)}, partition {_partition(run)}.\n"
        f"{error.strip()[:500]}{checks}\n<{alerts.run_link(run.run_id)}|Open the run>"
    )


def check_failure_text(alerts: SlackAlerts, instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    failed = failed_checks(instance, run.run_id)
    if not failed:
        return None
    return (
        f"Check failed: {', '.join(failed)}; job `{run.job_name}`, partition {_partition(run)}.\n"
        f"<{alerts.run_link(run.run_id)}|Open the run>"
    )


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """`check` on asset `key` for each check the run evaluated as failed at ERROR severity."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    failed = []
    for record in records:
        evaluation = record.event_log_entry.get_dagster_event().event_specific_data
        if (
            isinstance(evaluation, dg.AssetCheckEvaluation)
            and not evaluation.passed
            and evaluation.severity == dg.AssetCheckSeverity.ERROR
        ):
            failed.append(f"`{evaluation.check_name}` on asset {evaluation.asset_key.to_user_string()}")
    return failed


def _assets(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    """The run's asset selection, or (a job that selects none) the assets it planned to materialize."""
    keys = set(run.asset_selection or ())
    if not keys:
        planned = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        for record in instance.get_records_for_run(run.run_id, of_type=planned).records:
            key = record.event_log_entry.get_dagster_event().asset_key
            if key is not None:
                keys.add(key)
    return ", ".join(sorted(k.to_user_string() for k in keys)) or "none"


def _partition(run: dg.DagsterRun) -> str:
    start, end = run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end")
    return run.tags.get("dagster/partition") or (f"{start}...{end}" if start and end else "none")


@dg.run_failure_sensor(name=RUN_FAILURE_SENSOR, default_status=dg.DefaultSensorStatus.RUNNING)
def slack_on_run_failure(context: dg.RunFailureSensorContext, slack_alerts: SlackAlerts) -> None:
    """Posts each failed run of this code location to the team's Slack channel."""
    error = context.failure_event.message or ""
    text = run_failure_text(slack_alerts, context.instance, context.dagster_run, error)
    slack_alerts.post(text, context.log)


# Checks are evaluated in runs: a run that succeeded is looked at for checks that failed at ERROR (a
# failed run's alert lists its own). Dagster keeps this sensor's cursor over the runs.
@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS, name=CHECK_FAILURE_SENSOR, default_status=dg.DefaultSensorStatus.RUNNING
)
def slack_on_check_failure(context: dg.RunStatusSensorContext, slack_alerts: SlackAlerts) -> None:
    """Posts the asset checks a finished run failed at ERROR severity to the team's Slack channel."""
    text = check_failure_text(slack_alerts, context.instance, context.dagster_run)
    if text is not None:
        slack_alerts.post(text, context.log)


SENSORS = (slack_on_run_failure, slack_on_check_failure)
