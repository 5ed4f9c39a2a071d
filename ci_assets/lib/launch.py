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
from collections.abc import Sequence
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


def launch(url: str, run: DemoRun) -> str:
    """The launched run's id; a refusal is an error naming the run."""
    result = graphql(url, _LAUNCH, {"params": run.params()})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"{run.description}: {result['__typename']}: {result.get('message') or result}")
    return result["run"]["runId"]
