"""A light multi-step job on the celery executor: each step says which process ran it.

Used by the tests and the benchmark to prove steps leave the launching process for a
celery worker, and to measure what the engine adds per step.
"""

import os
import socket

import dagster as dg
from dagster_celery import celery_executor


@dg.op(config_schema={"steps": dg.Field(int, default_value=2)}, out=dg.DynamicOut(int))
def fan_out(context: dg.OpExecutionContext):
    for i in range(context.op_config["steps"]):
        yield dg.DynamicOutput(i, mapping_key=str(i))


@dg.op
def light_step(i: int) -> dict:
    return {"step": i, "pid": os.getpid(), "host": socket.gethostname()}


@dg.op
def gather(results: list[dict]) -> list[dict]:
    return sorted(results, key=lambda r: r["step"])


@dg.job(executor_def=celery_executor, tags={"system": "scaleout"})
def celery_probe() -> None:
    gather(fan_out().map(light_step).collect())


@dg.job(executor_def=dg.in_process_executor)
def inprocess_probe() -> None:
    """The same graph on the in-process executor: the baseline of the celery benchmark."""
    gather(fan_out().map(light_step).collect())
