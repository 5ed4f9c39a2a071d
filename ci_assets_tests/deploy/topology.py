"""The deployed shape, run here as separate processes from the installed package (no container, no
cluster): the code location as a gRPC code server (`dagster code-server start`, the chart's user
deployment), `dagster-webserver` and `dagster-daemon` reading a workspace that points at its host
and port (as the chart writes it), the cloud instance file (dagster-postgres storage, the queued
coordinator) and the cloud environment (S3 on moto, BigQuery on the emulator, PostgreSQL, RabbitMQ).

The webserver and the daemon get only Dagster's variables, as Dagster's own images in the chart
do; the code server (and so the runs it launches) gets the code location's environment.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ci_assets.lib.launch import LOCATION, DemoRun, graphql, launch
from ci_assets_tests.services import processes
from ci_assets_tests.services.network import can_connect, free_port, wait_for_http

RUNS = """
query Runs($filter: RunsFilter) { runsOrError(filter: $filter, limit: 500) { ... on Runs { results {
  runId status jobName runConfigYaml tags { key value } assetSelection { path } } } } }
"""
# What the chart gives the daemon (deploy/helm/values.yaml): a backfill evaluated while its code
# server restarts waits for it instead of failing.
DAEMON_ENV = {"DAGSTER_BACKFILL_RETRY_DEFINITION_CHANGED_ERROR": "1"}
CODE_SERVER_RETRY_DELAY = 20  # three tries span a restart (the server loads in ~10 s)
LOGS = """
query Logs($runId: ID!) { logsForRun(runId: $runId) { ... on EventConnection { events {
  __typename ... on MessageEvent { message } } } } }
"""
IN_FLIGHT = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }
"""
BACKFILL_STATUS = """
query Status($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }
"""


@dataclasses.dataclass
class Topology:
    venv: Path
    home: Path  # DAGSTER_HOME: the cloud dagster.yaml and workspace.yaml
    code_env: dict[str, str]  # the code location's environment
    dagster_env: dict[str, str]  # DAGSTER_HOME and DAGSTER_PG_*
    grpc_port: int = dataclasses.field(default_factory=free_port)
    web_port: int = dataclasses.field(default_factory=free_port)
    started: dict[str, subprocess.Popen] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)

    def note(self, line: str) -> None:
        """What the test did, when: kept, and written to `topology.log` beside the servers' logs."""
        self.notes.append(line)
        with (self.home / "topology.log").open("a") as log:
            log.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def write_instance(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        installed = next(self.venv.glob("lib/python*/site-packages/ci_assets/instance/cloud/dagster.yaml"))
        config = yaml.safe_load(installed.read_text())
        # The file's minute between tries at a code server that is down, shortened for the test.
        config["run_coordinator"]["config"]["user_code_failure_retry_delay"] = CODE_SERVER_RETRY_DELAY
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(config))
        (self.home / "workspace.yaml").write_text(
            "load_from:\n"
            f"  - grpc_server:\n      host: 127.0.0.1\n      port: {self.grpc_port}\n"
            f"      location_name: {LOCATION}\n"
        )

    def command(self, name: str) -> list[str]:
        bin_dir, workspace = self.venv / "bin", str(self.home / "workspace.yaml")
        return {
            "code_server": [str(bin_dir / "dagster"), "code-server", "start", "--host", "127.0.0.1",
                            "--port", str(self.grpc_port), "--module-name", "ci_assets.definitions",
                            "--location-name", LOCATION],
            "webserver": [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.web_port),
                          "-w", workspace],
            "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
        }[name]  # fmt: skip

    def start(self, name: str) -> None:
        env = {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home)} | self.dagster_env
        if name == "code_server":
            env |= self.code_env
        elif name == "daemon":
            env |= DAEMON_ENV
        log = (self.home / f"{name}.log").open("ab")
        self.started[name] = processes.start(self.command(name), env=env, cwd=self.home, stdout=log, stderr=log)
        if name == "code_server":
            self.wait_for(lambda: can_connect("127.0.0.1", self.grpc_port) is None, 120, "the code server")
        elif name == "webserver":
            wait_for_http(f"{self.url}/server_info", timeout=120)

    def kill(self, name: str, group: bool = False) -> None:
        """SIGKILL the process (alone: the runs a code server started go on, as Jobs of their own
        would), or its whole group."""
        process = self.started.pop(name)
        if group:
            processes.stop(process, signal.SIGKILL, grace=0)
        else:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for name in ("daemon", "webserver", "code_server"):
            if name in self.started:
                processes.stop(self.started.pop(name))

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # -- through the webserver, as the UI does -------------------------------------------------
    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.url, query, variables)

    def runs(self, **run_filter: Any) -> list[dict[str, Any]]:
        return self.graphql(RUNS, {"filter": run_filter})["runsOrError"]["results"]

    def launch(self, run: DemoRun) -> str:
        """The run's id; a launch the webserver failed to answer (a 5xx while it reconnects to a
        restarted code server or database) is asked again, as `make dev`'s demo does."""
        launched: list[str] = []
        self.wait_for(lambda: bool(launched or launched.append(launch(self.url, run))), 120, f"launching {run}")
        return launched[0]

    def messages(self, run_id: str) -> list[str]:
        events = self.graphql(LOGS, {"runId": run_id})["logsForRun"]["events"]
        return [e.get("message") or "" for e in events]

    def backfill(self, assets: list[list[str]], partitions: list[str]) -> str:
        params = {"assetSelection": [{"path": p} for p in assets], "partitionNames": partitions}
        answer = self.graphql(BACKFILL, {"params": params})["launchPartitionBackfill"]
        assert answer["__typename"] == "LaunchBackfillSuccess", answer
        return answer["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        return self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]

    def wait_for(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.started.items():
                assert process.poll() is None, f"{name} exited with {process.returncode}:\n{self.log(name)}"
            try:
                if ready():
                    return
            except (OSError, RuntimeError, KeyError, TypeError):
                pass  # a server between restarts answers nothing or errors: ask again
            time.sleep(1)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def wait_idle(self, timeout: float) -> None:
        self.wait_for(lambda: not self.runs(statuses=IN_FLIGHT), timeout, "no run queued or in progress")
