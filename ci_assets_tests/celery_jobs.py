"""A job for the celery tests: one step writes rows in two commits, and can be held between them.

The worker imports it from the repository (PYTHONPATH), as it would a code location's module.
"""

import os
import time
from pathlib import Path

import dagster as dg
import psycopg
from dagster_celery import celery_executor

ROWS = 100


@dg.op(config_schema={"dsn": str, "hold_file": str, "pid_file": str})
def write_rows(context: dg.OpExecutionContext) -> int:
    """Upserts rows 0..99 by primary key: the first half, then (unless held) the second half."""
    dsn, hold, pid_file = (context.op_config[k] for k in ("dsn", "hold_file", "pid_file"))
    Path(pid_file).write_text(str(os.getpid()))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS celery_rows (n int PRIMARY KEY, pid int)")
        for half in (range(0, ROWS // 2), range(ROWS // 2, ROWS)):
            with conn.transaction():
                for n in half:
                    conn.execute("INSERT INTO celery_rows VALUES (%s, %s) ON CONFLICT (n) DO NOTHING", (n, os.getpid()))
            while Path(hold).exists():  # the test kills this process here
                time.sleep(0.1)
    return ROWS


@dg.op
def count_rows(written: int) -> int:
    return written


@dg.job(executor_def=celery_executor)
def celery_writer() -> None:
    count_rows(write_rows())
