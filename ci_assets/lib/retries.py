"""Bounded retries, with backoff, for the failures that going again can fix.

A storage call that timed out, a connection that dropped, a 5xx or a throttling answer
is worth a retry; a corrupt file or a bad schema is not, and is raised at once. The
decorator turns the first kind into Dagster's RetryRequested, at most `max_retries`
times, waiting base x 2^n seconds, so a run never loops forever.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import dagster as dg

S3_TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "503", "500"}


def _transient_one(exc: BaseException) -> bool:
    try:
        from botocore import exceptions as boto
    except ImportError:  # pragma: no cover - boto3 is a dependency
        boto = None
    if boto is not None:
        if isinstance(exc, boto.ConnectionError | boto.HTTPClientError):
            return True
        if isinstance(exc, boto.ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return error.get("Code") in S3_TRANSIENT_CODES or status >= 500
    from google.api_core import exceptions as google

    if isinstance(exc, google.ServerError | google.TooManyRequests | google.DeadlineExceeded):
        return True
    import psycopg

    if isinstance(exc, psycopg.OperationalError):
        return True  # the server went away or refused the connection
    return isinstance(exc, ConnectionError | TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, is worth another attempt."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _transient_one(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def transient_retries(max_retries: int = 3, base_seconds: float = 10.0) -> Callable[[Callable], Callable]:
    """Decorate an asset or op function (plain or generator) whose first argument is its context."""

    def request(context: Any, exc: BaseException) -> dg.RetryRequested:
        wait = min(600.0, base_seconds * 2 ** getattr(context, "retry_number", 0))
        return dg.RetryRequested(max_retries=max_retries, seconds_to_wait=wait)

    def decorate(fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator(context: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    yield from fn(context, *args, **kwargs)
                except Exception as exc:
                    if is_transient(exc):
                        raise request(context, exc) from exc
                    raise

            return generator

        @functools.wraps(fn)
        def plain(context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(context, *args, **kwargs)
            except Exception as exc:
                if is_transient(exc):
                    raise request(context, exc) from exc
                raise

        return plain

    return decorate
