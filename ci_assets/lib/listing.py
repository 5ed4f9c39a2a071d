"""Bucket-listing sensors: how often they tick is the environment's choice, made in one place.

A system declares its listing sensor with `listing_sensor(...)` (an ordinary `dg.sensor`,
marked as a listing sensor); the code location then sets every such sensor's interval from
`CI_ASSETS_LISTING_INTERVAL_SECONDS` with `with_listing_interval`, so no system module reads
the environment when it is imported.
"""

from __future__ import annotations

import warnings
from typing import Any

import dagster as dg
from dagster._core.definitions.sensor_definition import resolve_jobs_from_targets_for_with_attributes

LISTING_MARK = "ci_assets/listing_sensor"
DEFAULT_INTERVAL_SECONDS = 60


def listing_sensor(**kwargs: Any) -> Any:
    """`dg.sensor(...)` for a sensor that lists a bucket after a cursor (interval set by the environment)."""
    metadata = {**kwargs.pop("metadata", {}), LISTING_MARK: True}
    return dg.sensor(minimum_interval_seconds=DEFAULT_INTERVAL_SECONDS, metadata=metadata, **kwargs)


def is_listing_sensor(sensor: dg.SensorDefinition) -> bool:
    value = (sensor.metadata or {}).get(LISTING_MARK)
    return bool(getattr(value, "value", value))


def _with_interval(sensor: dg.SensorDefinition, seconds: int) -> dg.SensorDefinition:
    # SensorDefinition.with_attributes cannot change the interval; this is its body with the interval replaced.
    job_name, job, jobs = resolve_jobs_from_targets_for_with_attributes(sensor, None)
    with warnings.catch_warnings():
        # The copy passes the sensor's own `owners` (None) on, which Dagster flags as a beta parameter.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _copy(sensor, seconds, job_name, job, jobs)


def _copy(sensor: dg.SensorDefinition, seconds: int, job_name: Any, job: Any, jobs: Any) -> dg.SensorDefinition:
    return dg.SensorDefinition.dagster_internal_init(
        name=sensor.name,
        evaluation_fn=sensor._raw_fn,
        minimum_interval_seconds=seconds,
        description=sensor.description,
        job_name=job_name,
        jobs=jobs,
        job=job,
        default_status=sensor.default_status,
        asset_selection=sensor.asset_selection,
        required_resource_keys=sensor._raw_required_resource_keys,
        tags=sensor._tags,
        metadata=sensor.metadata,
        target=None,
        owners=sensor.owners,
    )


def with_listing_interval(sensors: list[dg.SensorDefinition], seconds: int) -> list[dg.SensorDefinition]:
    return [_with_interval(s, seconds) if is_listing_sensor(s) else s for s in sensors]
