"""The local platform as a user starts it (`ci-assets dev`: demo data, webserver, daemon) on a free port.

Used by the browser tests and by `bench/ui_materialize.py`. Everything lives in one throwaway
`CI_ASSETS_HOME`; the process group (dg dev, webserver, daemon, code server, runs) and the
embedded PostgreSQL are stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ci_assets.lib.launch import graphql
from ci_assets_tests.services import processes
from ci_assets_tests.services.network import free_port, wait_for_http

T = TypeVar("T")

LOCATION = "ci_assets"
RUNS_IN_FLIGHT = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]

_RUNS = """
query Runs($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { runId status creationTime tags { key value } assetSelection { path } } }
    ... on PythonError { message }
  }
}
"""

_LOCATION_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


class DevPlatform:
    """`ci-assets dev --port P` in its own process group, with a GraphQL client for the tests' assertions."""

    def __init__(self, home: Path, env_overrides: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.search_url = f"http://127.0.0.1:{free_port()}"  # Buildhub's search page, started beside
        self.log_path = home / "dev.log"
        self.env_overrides = env_overrides or {}
        self._process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        # The test process's own CI_ASSETS_*/DAGSTER_* settings (moto endpoints, ...) must not leak in:
        # the platform starts as on a fresh machine, on the embedded local default.
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("CI_ASSETS_", "DAGSTER_"))}
        search_port = self.search_url.rsplit(":", 1)[1]
        local = {"CI_ASSETS_ENV": "local", "CI_ASSETS_HOME": str(self.home), "SEARCH_PORT": search_port}
        return environ | local | self.env_overrides

    def start(self, timeout: float = 300) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        cli = Path(sys.executable).parent / "ci-assets"
        with self.log_path.open("wb") as log:
            self._process = processes.start(
                [str(cli), "dev", "--port", str(self.port)],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        try:
            wait_for_http(f"{self.url}/server_info", timeout=timeout)
            self.wait_for(self._location_loaded, deadline - time.monotonic(), "the code location to load")
        except Exception:
            self.stop()
            raise

    def _location_loaded(self) -> bool:
        self._check_alive()
        entries = self.graphql(_LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        for entry in entries:
            if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED":
                loaded = entry["locationOrLoadError"]
                if loaded["__typename"] == "PythonError":
                    raise AssertionError(f"the code location failed to load: {loaded['message']}")
                return True
        return False

    def _check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"`ci-assets dev` exited with {self._process.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._process is not None:
            processes.stop(self._process, grace=30)
        # Runs and code servers are started in sessions of their own; whatever still holds the home goes.
        subprocess.run(["pkill", "-KILL", "-f", str(self.home)], check=False)
        self._stop_embedded_postgres()

    def _stop_embedded_postgres(self) -> None:
        pid_file = self.home / "postgres" / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)  # fast shutdown

    # --- GraphQL, for what the tests check behind the browser -------------------------------------

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.url, query, variables)

    def runs(self, limit: int = 200, **run_filter: Any) -> list[dict[str, Any]]:
        data = self.graphql(_RUNS, {"filter": run_filter, "limit": limit})["runsOrError"]
        if data["__typename"] != "Runs":
            raise AssertionError(f"runs query failed: {data}")
        return data["results"]

    def wait_idle(self, timeout: float) -> None:
        """Until no run is queued or running (the demo's sensors start some on their first tick)."""
        self.wait_for(lambda: not self.runs(statuses=RUNS_IN_FLIGHT), timeout, "the run queue to drain")

    def wait_for(self, probe: Callable[[], T], timeout: float, what: str, interval: float = 1.0) -> T:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.log_tail()}")
            time.sleep(interval)
