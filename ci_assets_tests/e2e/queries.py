"""What the browser tests check behind the UI, through the webserver's own GraphQL API."""

from __future__ import annotations

import json
from typing import Any

from ci_assets_tests.e2e.platform import LOCATION, DevPlatform

_MATERIALIZATIONS = """
query Materializations($path: [String!]!, $partitions: [String!]) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset { assetMaterializations(partitions: $partitions) { partition runId
      metadataEntries { label __typename
        ... on IntMetadataEntry { intValue }
        ... on JsonMetadataEntry { jsonString } } } }
  }
}
"""

_SENSOR = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status
      ticks(limit: 50) { id status timestamp runIds error { message causes { message } } } } }
  }
}
"""

_BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { id status } }
}
"""

_DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"


def materializations(platform: DevPlatform, path: list[str], partitions: list[str] | None) -> dict[str, dict[str, Any]]:
    """partition -> {label: value} of its newest materialization."""
    answer = platform.graphql(_MATERIALIZATIONS, {"path": path, "partitions": partitions})["assetOrError"]
    assert answer["__typename"] == "Asset", answer
    newest: dict[str, dict[str, Any]] = {}
    for event in answer["assetMaterializations"]:  # newest first
        if event["partition"] in newest:
            continue
        values: dict[str, Any] = {"runId": event["runId"]}
        for entry in event["metadataEntries"]:
            if "intValue" in entry:
                values[entry["label"]] = entry["intValue"]
            elif "jsonString" in entry:
                values[entry["label"]] = json.loads(entry["jsonString"])
        newest[event["partition"]] = values
    return newest


def sensor_ticks(platform: DevPlatform, name: str) -> list[dict[str, Any]]:
    """Newest first."""
    selector = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "sensorName": name}
    answer = platform.graphql(_SENSOR, {"selector": selector})["sensorOrError"]
    assert answer["__typename"] == "Sensor", answer
    ticks = answer["sensorState"]["ticks"]
    for tick in ticks:  # the sensor's own exception is the cause of Dagster's SensorExecutionError
        if tick["error"]:
            tick["error"]["message"] = "\n".join(
                [tick["error"]["message"], *(c["message"] for c in tick["error"]["causes"])]
            )
    return ticks


def backfill_status(platform: DevPlatform, backfill_id: str) -> str:
    answer = platform.graphql(_BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
    assert answer["__typename"] == "PartitionBackfill", answer
    return answer["status"]


def daemons(platform: DevPlatform) -> dict[str, bool]:
    statuses = platform.graphql(_DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
    return {s["daemonType"]: s["healthy"] for s in statuses if s["required"]}
