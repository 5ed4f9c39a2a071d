"""Jobs the warm launcher's tests run in its workers (importable by module, as a code location's)."""

import gc
import os
import time

import dagster as dg


@dg.op
def say_pid(context: dg.OpExecutionContext) -> int:
    context.log.info(f"pid {os.getpid()}")
    context.log.info(f"frozen {gc.get_freeze_count()}")
    return os.getpid()


@dg.job(executor_def=dg.in_process_executor)
def quick() -> None:
    say_pid()


@dg.op
def wait_long() -> None:
    time.sleep(120)


@dg.job(executor_def=dg.in_process_executor)
def slow() -> None:
    wait_long()
