"""Replay and auto-forward: build the outbound request for a capture, send it through
`outbound`, and record every attempt as a Delivery; the forwarder thread drains the queue."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from flask import Flask

from inspector import metrics, store
from inspector.delivery import outbound
from inspector.models import Capture, Delivery

log = logging.getLogger(__name__)

# Statuses worth retrying: the target may be fine later. Other 4xx mean it rejected the
# content, and sending the same bytes again would only repeat that answer.
_RETRYABLE_4XX = {408, 425, 429}
# Seconds a claim outlives the attempt's timeout (recording the attempt, a slow database).
LEASE_SLACK_S = 5


@dataclass(frozen=True)
class Outgoing:
    """What will be sent: method, full URL, header pairs, body, and what was changed."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    note: str | None = None


def plan(
    capture: Capture,
    base: str,
    *,
    method: str | None = None,
    headers: Iterable[Sequence[str]] | None = None,
    body: bytes | None = None,
    note: str | None = None,
) -> Outgoing:
    """The request that forwards `capture` to target `base` with the forwarding semantics
    (base + sub-path + query; hop-by-hop, Host and Content-Length dropped; hop header
    added). `method`/`headers`/`body` replace the captured ones when given (edited replay)."""
    source_headers = headers if headers is not None else capture.headers
    hop = outbound.incoming_hop(capture.headers) + 1
    return Outgoing(
        method=(method or capture.method).upper(),
        url=outbound.target_url(base, capture.path, capture.query_string),
        headers=tuple(outbound.forward_headers(source_headers, hop)),
        body=capture.body if body is None else body,
        note=note,
    )


def is_own_capture_url(url: str, own_bases: list[str]) -> bool:
    """True when `url` points at a capture URL of this server (one of `own_bases`). False for
    a URL whose host or port cannot be parsed: sending refuses it with a clear error instead."""
    target, port = _split(url)
    if target is None:
        return False
    for base in own_bases:
        own, own_port = _split(base)
        if own is None:
            continue
        same_host = (target.hostname or "").lower() == (own.hostname or "").lower()
        if same_host and port == own_port and target.path.startswith(own.path.rstrip("/") + "/h/"):
            return True
    return False


def _split(url: str) -> tuple[SplitResult | None, int | None]:
    """The URL's parts and effective port, or (None, None) when urlsplit rejects the host
    (a bad `[...]` literal) or the port (out of range, not a number)."""
    try:
        parts = urlsplit(url)
        return parts, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, None


def send(outgoing: Outgoing, config: Mapping[str, Any], **seams: Any) -> outbound.Attempt:
    """Send through `outbound` with the configured timeout and deny-list."""
    return outbound.send(
        outgoing.method,
        outgoing.url,
        outgoing.headers,
        outgoing.body,
        timeout=float(config["FORWARD_TIMEOUT_S"]),
        deny=outbound.parse_deny(config["FORWARD_DENY"]),
        **seams,
    )


def record(capture_id: int, outgoing: Outgoing, attempt: outbound.Attempt, *, kind: str, number: int) -> Delivery:
    """Store an attempt as a Delivery row and return it."""
    return store.add_delivery(
        Delivery(
            capture_id=capture_id,
            kind=kind,
            url=outgoing.url,
            method=outgoing.method,
            attempt=number,
            status_code=attempt.status_code,
            error=attempt.error,
            elapsed_ms=attempt.elapsed_ms,
            response_headers=[list(pair) for pair in attempt.response_headers],
            response_body=attempt.response_body,
            note=outgoing.note,
            created_at=datetime.now(UTC),
        )
    )


def replay(capture: Capture, outgoing: Outgoing, config: Mapping[str, Any], **seams: Any) -> Delivery:
    """Send `outgoing` once now and store the attempt (numbered after earlier replays)."""
    number = 1 + sum(1 for d in store.list_deliveries(capture.id) if d.kind == "replay")
    return record(capture.id, outgoing, send(outgoing, config, **seams), kind="replay", number=number)


def should_retry(attempt: outbound.Attempt) -> bool:
    """Retry errors, 5xx and the 4xx that mean "later" (408, 425, 429)."""
    if attempt.status_code is None:
        return not (attempt.error or "").startswith("refused:")
    return attempt.status_code >= 500 or attempt.status_code in _RETRYABLE_4XX


def retry_delay(attempts_made: int) -> timedelta:
    """Exponential backoff starting at 1 s: 1, 2, 4, 8 … seconds."""
    return timedelta(seconds=2 ** (attempts_made - 1))


def forward_next(app: Flask, now: datetime | None = None, **seams: Any) -> bool:
    """Claim one due forwarding job, make one attempt and record it; False when none was due."""
    now = now or datetime.now(UTC)
    config = app.config
    token = secrets.token_hex(16)
    # Long enough for one attempt; a worker that dies mid-attempt frees the job soon after.
    lease = now + timedelta(seconds=float(config["FORWARD_TIMEOUT_S"]) + LEASE_SLACK_S)
    with app.app_context():
        job = store.claim_forward_job(now, lease, token)
        if job is None:
            return False
        capture = job.capture
        outgoing = plan(capture, job.url)
        attempt = send(outgoing, config, **seams)
        number = job.attempts + 1
        record(capture.id, outgoing, attempt, kind="forward", number=number)
        max_attempts = int(config["FORWARD_MAX_ATTEMPTS"])
        if attempt.status_code is not None and 200 <= attempt.status_code < 300:
            state, next_at = "done", None
        elif should_retry(attempt) and number < max_attempts:
            finished = now + timedelta(milliseconds=attempt.elapsed_ms)
            state, next_at = "pending", finished + retry_delay(number)
        else:
            state, next_at = "failed", None
        store.finish_forward_job(job, token, state=state, next_attempt_at=next_at)
        metrics.record_forward_attempt(state)
    return True


def start_forwarder(app: Flask, poll_s: float = 0.25) -> threading.Thread:
    """A daemon thread that drains due forwarding jobs in this process until it exits."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                busy = forward_next(app)
            except Exception:
                log.exception("forwarding pass failed")
                busy = False
            if not busy:
                stop.wait(poll_s)

    thread = threading.Thread(target=loop, name="hookloupe-forwarder", daemon=True)
    thread.start()
    app.extensions["hookloupe.forwarder"] = (stop, thread)
    return thread


def stop_forwarder(app: Flask, timeout: float) -> None:
    """Let the forwarder finish its current attempt (at most `timeout` s) and stop, so a
    graceful shutdown leaves no claimed job behind."""
    stop, thread = app.extensions.get("hookloupe.forwarder", (None, None))
    if stop is not None:
        stop.set()
        thread.join(timeout)
