"""Bounded retries, with backoff, for the failures that going again can fix.

A storage call that timed out, a connection that dropped, a 5xx or a throttling answer
is worth a retry; a corrupt file or a bad schema is not, and is raised at once. The
decorator turns the first kind into Dagster's RetryRequested, at most `max_retries`
times, waiting base x 2^n seconds, so a run never loops forever.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
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


MAX_RETRIES = 3
BASE_SECONDS = 10.0
# Set on every function the policy wraps, so a test can hold each storage-facing step to it.
MARK = "_ci_assets_transient_retries"


def retry_request(context: Any, max_retries: int = MAX_RETRIES, base_seconds: float | None = None) -> dg.RetryRequested:
    """The policy's answer to a transient failure: try the step again, waiting base x 2^n seconds."""
    base = BASE_SECONDS if base_seconds is None else base_seconds  # read when asked: tests shorten it
    wait = min(600.0, base * 2 ** _attempt(context))
    return dg.RetryRequested(max_retries=max_retries, seconds_to_wait=wait)


def _attempt(context: Any) -> int:
    """How many times the step ran before (an asset's context, or an IO manager's through its step)."""
    number = getattr(context, "retry_number", None)
    if number is None:
        try:
            number = context.step_context.previous_attempt_count
        except Exception:  # noqa: BLE001 - a context built outside a run has no step
            number = 0
    return int(number or 0)


@contextlib.contextmanager
def transient_failures_retried(context: Any, base_seconds: float | None = None) -> Iterator[None]:
    """The same policy around code that is not an asset's body (an IO manager's write or read)."""
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise retry_request(context, base_seconds=base_seconds) from exc
        raise


def transient_retries(
    max_retries: int = MAX_RETRIES, base_seconds: float | None = None
) -> Callable[[Callable], Callable]:
    """Decorate an asset or op function (plain or generator) whose first argument is its context."""

    def request(context: Any, exc: BaseException) -> dg.RetryRequested:
        return retry_request(context, max_retries, base_seconds)

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

            setattr(generator, MARK, True)
            return generator

        @functools.wraps(fn)
        def plain(context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(context, *args, **kwargs)
            except Exception as exc:
                if is_transient(exc):
                    raise request(context, exc) from exc
                raise

        setattr(plain, MARK, True)
        return plain

    return decorate
