"""Launching ordinary runs on a running Dagster webserver (GraphQL), as the UI's Materialize does.

`make dev` uses it to run each system's most recent demo day once the platform is up, so a
newcomer's first look at the UI finds materializations, checks and metadata in every group.
The runs go through the instance's run queue like any other (visible in the run list).
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

LOCATION = "ci_assets"
REPOSITORY = "__repository__"
ASSET_JOB = "__ASSET_JOB"

_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
  }
}
"""
_LOCATION_STATUS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
_PARTITIONS = """
query Partitions($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode { partitionKeys } } }
"""
_MATERIALIZED = """
query Materialized($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) { ... on Asset { assetMaterializations(limit: 1) { runId } } }
}
"""


@dataclasses.dataclass(frozen=True)
class DemoRun:
    """A run to launch: a job, or a selection of assets (the implicit asset job), for one partition."""

    description: str
    system: str
    job: str = ASSET_JOB
    assets: Sequence[Sequence[str]] = ()
    partition: str | None = None
    # A multi-partition key's dimensions, as the UI tags them.
    dimensions: dict[str, str] = dataclasses.field(default_factory=dict)
    # Assets that must have a materialization before this run is launched (what it reads).
    after: Sequence[Sequence[str]] = ()
    # The newest partition key of this asset at launch time (a dynamic partition the upstream adds).
    partition_of: Sequence[str] | None = None

    def resolved(self, url: str) -> DemoRun | None:
        """This run with `partition_of` looked up (None while the asset has no partition yet)."""
        if self.partition_of is None:
            return self
        keys = graphql(url, _PARTITIONS, {"path": list(self.partition_of)})["assetNodeOrError"].get("partitionKeys")
        return dataclasses.replace(self, partition=keys[-1], partition_of=None) if keys else None

    def params(self) -> dict[str, Any]:
        tags = {"ci_assets/demo": "true", "system": self.system}
        if self.partition:
            tags["dagster/partition"] = self.partition
            tags.update({f"dagster/partition/{d}": v for d, v in self.dimensions.items()})
        selector: dict[str, Any] = {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": self.job,
        }
        if self.assets:
            selector["assetSelection"] = [{"path": list(path)} for path in self.assets]
        return {
            "selector": selector,
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def wait_until_loaded(url: str, timeout: float) -> bool:
    """Whether the webserver answered with the code location loaded before `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            entries = graphql(url, _LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            if any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" for e in entries):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, RuntimeError):
            pass
        time.sleep(1)
    return False


def materialized(url: str, path: Sequence[str]) -> bool:
    """Whether the asset has a materialization (of any partition)."""
    asset = graphql(url, _MATERIALIZED, {"path": list(path)})["assetOrError"]
    return bool(asset.get("assetMaterializations"))


def launch_in_order(
    url: str, runs: Sequence[DemoRun], report: Callable[[str], None], timeout: float = 900, poll: float = 2
) -> list[DemoRun]:
    """Launch each run once the assets it comes `after` are materialized; the runs never launched
    (their upstream did not materialize within `timeout` seconds)."""
    waiting, deadline = list(runs), time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for run in list(waiting):
            try:
                ready = run.resolved(url) if all(materialized(url, path) for path in run.after) else None
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return waiting  # the webserver stopped (Ctrl-C): nothing more to launch
            if ready is None:
                continue
            try:
                report(f"  demo run {launch(url, ready)}: {ready.description}")
            except OSError:  # the webserver failed to answer (a 5xx, a dropped connection): asked again
                continue
            except RuntimeError as err:  # refused: the platform stays up; the UI shows what is there
                report(f"  demo run not launched: {err}")
            waiting.remove(run)
        if waiting:
            time.sleep(poll)
    return waiting


def launch(url: str, run: DemoRun) -> str:
    """The launched run's id; a refusal is an error naming the run."""
    result = graphql(url, _LAUNCH, {"params": run.params()})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"{run.description}: {result['__typename']}: {result.get('message') or result}")
    return result["run"]["runId"]
