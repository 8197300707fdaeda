"""Prometheus metrics: what Hookloupe counts, the one-line calls that count it, and the scrape.

Under `hookloupe serve` every gunicorn worker is a process of its own, so the counts live in
prometheus_client's multiprocess mode: each process writes its values to memory-mapped files
in `PROMETHEUS_MULTIPROC_DIR` (serve makes a fresh directory and sets the variable before the
workers start, cli.py), and a scrape, whichever worker answers it, adds up every process's
files — exact totals, the dead workers' counts included. Without that variable (the Flask
test client, `flask run`) the values are this process's own.

prometheus_client picks its storage when it is first imported, from that variable; the
values must therefore never be created before serve set it (this module is only imported by
the app's modules, after fork). Gauges of the database (queue depth, unanalysed rows) are read
at scrape time, so they are exact across workers and hosts.

No metric has a per-bin label: bins are unbounded and user-named, and a label per bin would
grow the scrape (and Prometheus's storage) without limit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

# The classic text format: every Prometheus (and most other scrapers) reads it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

CAPTURE_OUTCOMES = ("stored", "truncated", "incomplete", "refused_no_bin", "db_unavailable", "error")
# How an auto-forward attempt ended: the target took it (2xx), another attempt is scheduled, or
# it was the last one (attempts used up, or an answer not worth retrying).
FORWARD_OUTCOMES = {"done": "delivered", "pending": "retrying", "failed": "failed"}

# No `*_created` series: multiprocess mode has none, so a scrape reads the same either way.
disable_created_metrics()  # type: ignore[no-untyped-call]
# Our metrics only (no process/platform collectors: in multiprocess mode they would describe
# whichever worker happened to answer the scrape).
_REGISTRY = CollectorRegistry()

CAPTURES = Counter("hookloupe_captures_total", "Requests to capture URLs, by outcome.", ["outcome"], registry=_REGISTRY)
CAPTURE_BYTES = Counter(
    "hookloupe_capture_bytes_total", "Body bytes received on capture URLs, by outcome.", ["outcome"], registry=_REGISTRY
)
CAPTURE_SECONDS = Histogram(
    "hookloupe_capture_seconds",
    "Time from a capture request reaching the app until its answer is built (body read and "
    "commit included, a bin's configured delay excluded).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=_REGISTRY,
)
ANALYSIS_LAG = Histogram(
    "hookloupe_analysis_lag_seconds",
    "Time from a capture's arrival until its analysis is written.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=_REGISTRY,
)
FORWARD_ATTEMPTS = Counter(
    "hookloupe_forward_attempts_total", "Auto-forward attempts, by outcome.", ["outcome"], registry=_REGISTRY
)
# livesum: the sum over the workers alive now (a dead worker's streams are gone with it).
OPEN_STREAMS = Gauge(
    "hookloupe_open_streams", "Event streams open now.", multiprocess_mode="livesum", registry=_REGISTRY
)
OPEN_WAITS = Gauge(
    "hookloupe_open_waits", "Long-poll waits in progress now.", multiprocess_mode="livesum", registry=_REGISTRY
)
DATABASE_ERRORS = Counter(
    "hookloupe_database_errors_total",
    "Database operations that failed because the database could not take them (unreachable, read-only, full, locked).",
    registry=_REGISTRY,
)

# Every outcome is reported from the start, at 0: a rate over a series that appears only
# with its first event misses that event.
for _outcome in CAPTURE_OUTCOMES:
    CAPTURES.labels(_outcome)
    CAPTURE_BYTES.labels(_outcome)
for _outcome in FORWARD_OUTCOMES.values():
    FORWARD_ATTEMPTS.labels(_outcome)
_CAPTURES = {outcome: (CAPTURES.labels(outcome), CAPTURE_BYTES.labels(outcome)) for outcome in CAPTURE_OUTCOMES}


# --- what the code calls -------------------------------------------------------------------


def record_capture(outcome: str, body_bytes: int, seconds: float) -> None:
    """Count one capture request: its outcome (one of CAPTURE_OUTCOMES), the body bytes
    received and the seconds its handling took."""
    count, size = _CAPTURES[outcome]
    count.inc()
    size.inc(body_bytes)
    CAPTURE_SECONDS.observe(seconds)


def record_analysed(arrivals: Iterable[datetime], now: datetime | None = None) -> None:
    """Observe the analysis lag of captures whose analyses were just written, from their
    arrival times (a naive time is UTC). A clock set back counts as no lag, never negative."""
    now = now or datetime.now(UTC)
    for arrived in arrivals:
        if arrived.tzinfo is None:
            arrived = arrived.replace(tzinfo=UTC)
        ANALYSIS_LAG.observe(max(0.0, (now - arrived).total_seconds()))


def record_forward_attempt(state: str) -> None:
    """Count an auto-forward attempt by the state it left its job in (`done`, `pending`, `failed`)."""
    FORWARD_ATTEMPTS.labels(FORWARD_OUTCOMES[state]).inc()


def record_database_error() -> None:
    """Count an operation the database could not take now (see capture/insert.py)."""
    DATABASE_ERRORS.inc()


def stream_open() -> AbstractContextManager[None]:
    """Around the life of one event stream (counted in `hookloupe_open_streams`)."""
    return OPEN_STREAMS.track_inprogress()


def waiting() -> AbstractContextManager[None]:
    """Around one long-poll wait (counted in `hookloupe_open_waits`)."""
    return OPEN_WAITS.track_inprogress()


# --- the scrape ----------------------------------------------------------------------------


def is_multiprocess() -> bool:
    """Whether this process stores its values in PROMETHEUS_MULTIPROC_DIR's files (decided by
    prometheus_client when it was first imported)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def exposition(database_gauges: Iterable[tuple[str, str, float]] | None) -> bytes:
    """The text format of every metric: all processes' values in multiprocess mode, else this
    process's; plus `database_gauges` (name, help, value) read now, and `hookloupe_database_up`,
    1 when they could be read (`None`: the database did not answer)."""
    return generate_latest(_Scrape(database_gauges))


class _Scrape:
    """The collector one scrape reads: the process values (or the multiprocess files) and the
    database gauges."""

    def __init__(self, database_gauges: Iterable[tuple[str, str, float]] | None) -> None:
        self.database_gauges = database_gauges

    def collect(self) -> Iterator[Metric]:
        if is_multiprocess():
            # A fresh collector per scrape reads the files as they are now.
            files = MultiProcessCollector(None, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])  # type: ignore[no-untyped-call]
            yield from files.collect()  # type: ignore[no-untyped-call]
        else:
            yield from _REGISTRY.collect()
        yield GaugeMetricFamily(
            "hookloupe_database_up",
            "1 when the database answered this scrape's queries, else 0.",
            value=0 if self.database_gauges is None else 1,
        )
        for name, help_text, value in self.database_gauges or ():
            yield GaugeMetricFamily(name, help_text, value=value)
