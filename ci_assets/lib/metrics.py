"""Metrics through markus (statsd in the cloud, log lines locally), tallied for metadata too.

A system keeps its original metric keys; the same counts land in the run's
materialization metadata, so the UI shows what the dashboards show.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from ci_assets.lib.lazy import lazy

markus = lazy("markus")  # imported on first use: most runs record no metric

_configured = threading.Lock()
_done = False


def configure_backends(statsd_host: str | None = None, statsd_port: int = 8125) -> None:
    """statsd when a host is given (the environment's module does, from `CI_ASSETS_STATSD_HOST`),
    else log lines. markus' backends are per process, as the code location that configures them is."""
    global _done
    with _configured:
        if statsd_host:
            backend: dict[str, Any] = {
                "class": "markus.backends.statsd.StatsdMetrics",
                "options": {"statsd_host": statsd_host, "statsd_port": statsd_port},
            }
        else:
            backend = {"class": "markus.backends.logging.LoggingMetrics"}
        markus.configure(backends=[backend])
        _done = True


def _ensure_configured() -> None:
    with _configured:
        if _done:
            return
    configure_backends()


class MetricsRecorder:
    """Emits each metric to markus under `namespace` and keeps a tally of what it emitted."""

    def __init__(self, namespace: str):
        _ensure_configured()
        self._metrics = markus.get_metrics(namespace)
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()
        self.timings: dict[str, list[float]] = collections.defaultdict(list)
        self.gauges: dict[str, float] = {}

    def incr(self, key: str, value: int = 1, tags: list[str] | None = None) -> None:
        self._metrics.incr(key, value=value, tags=tags)
        with self._lock:
            self.counts[key] += value
            for tag in tags or []:
                self.counts[f"{key}[{tag}]"] += value

    def gauge(self, key: str, value: float, tags: list[str] | None = None) -> None:
        self._metrics.gauge(key, value=value, tags=tags)
        with self._lock:
            self.gauges[key] = value

    def timing(self, key: str, elapsed_ms: float, tags: list[str] | None = None) -> None:
        self._metrics.timing(key, value=elapsed_ms, tags=tags)
        with self._lock:
            self.timings[key].append(elapsed_ms)

    @contextlib.contextmanager
    def timer(self, key: str, tags: list[str] | None = None) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timing(key, (time.perf_counter() - start) * 1000, tags)

    def as_metadata(self) -> dict[str, Any]:
        """Counts as ints, timers as count and total milliseconds, gauges as their last value."""
        out: dict[str, Any] = dict(self.counts)
        for key, values in self.timings.items():
            out[f"{key}.count"] = len(values)
            out[f"{key}.total_ms"] = round(sum(values), 1)
        out.update(self.gauges)
        return out
