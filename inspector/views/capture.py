"""ANY /h/<bin>[/<path>]: store the request exactly, then answer with the bin's response."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app
from werkzeug.http import HTTP_STATUS_CODES

from inspector import metrics, store
from inspector.bins import InvalidInput, ResponseSettings, check_header
from inspector.capture import insert as capture_store
from inspector.capture.handshakes import Reply, answer_handshake, might_be_handshake
from inspector.capture.request import CapturedRequest, capture_request
from inspector.delivery import outbound
from inspector.shapes import iso
from inspector.signing.analysis import secret_values

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# Environ keys: the body size `capture` read, and whether the request was counted (metrics.py).

# Served on the capture URL whatever the bin configures: a response body is never run as a
# page on Hookloupe's origin (a bin could otherwise serve script next to the UI); and a bin
# URL is a capability, never leaked through Referer.
_SANDBOX_HEADERS = (
    ("Content-Security-Policy", "sandbox; default-src 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def init_app(app: Flask) -> None:
    """Route `/h/...` through a small WSGI layer in front of Flask. Every method is captured
    (custom ones such as PURGE too, HEAD and OPTIONS not auto-answered), and the capture path,
    which runs for every webhook, skips Flask's per-request machinery (routing, hooks,
    sessions) that the rest of the app needs."""
    app.wsgi_app = CaptureDispatch(app, app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented middleware hook


class CaptureDispatch:
    """WSGI middleware: `/h/<bin>[/...]` goes to `capture` inside an app context; every other
    path goes on to Flask."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        _limit_idle_time(environ, float(self.app.config["IDLE_TIMEOUT_S"]))
        problem = host_problem(environ.get("SERVER_PROTOCOL", ""), environ.get("HTTP_HOST"))
        if problem:
            return json_answer(400, {"error": problem})(environ, start_response)
        path = environ.get("PATH_INFO", "")
        bin_id = path[3:].split("/", 1)[0] if path.startswith("/h/") else ""
        if not bin_id:
            return self.wsgi_app(environ, start_response)
        tally = Tally(time.perf_counter())
        # The analysis yields to captures in flight (analyser.py).
        with self.app.extensions["hookloupe.analyser"].capturing(), self.app.app_context():
            try:
                response = capture(environ, bin_id, tally)
            except capture_store.DatabaseUnavailableError as error:
                # Nothing was stored, and the sender should try again: its retry will be.
                log.warning("capture refused for bin %r: %s", bin_id, error)
                tally.end("db_unavailable")
                response = json_answer(503, {"error": "database unavailable: the request was not stored; retry later"})
                response.headers["Retry-After"] = "1"
            except Exception:
                log.exception("capture failed for bin %r", bin_id)
                tally.end("error")
                response = json_answer(500, {"error": "internal error: the request may not have been stored"})
        tally.record()
        return response(environ, start_response)


@dataclass
class Tally:
    """What metrics.py counts of one capture request: its outcome, its body's size, and how
    long its handling took until the outcome was known (a bin's configured delay excluded)."""

    started: float  # time.perf_counter()
    outcome: str = "error"
    body_size: int = 0
    seconds: float | None = None

    def end(self, outcome: str) -> None:
        """The outcome is known; the first one given stands."""
        if self.seconds is None:
            self.outcome, self.seconds = outcome, time.perf_counter() - self.started

    def record(self) -> None:
        self.end(self.outcome)
        metrics.record_capture(self.outcome, self.body_size, self.seconds or 0.0)


# A Host header: a name, IPv4 address or [IPv6 literal], and an optional port (RFC 9110 §7.2);
# a comma means the client sent two.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]*)(:[0-9]*)?")


def host_problem(protocol: str, host: str | None) -> str | None:
    """Why a request's Host header makes it malformed (RFC 9112 §3.2: answer 400), or None."""
    if host is None:
        return "an HTTP/1.1 request needs a Host header" if protocol == "HTTP/1.1" else None
    if not _HOST.fullmatch(host):
        return "the Host header is not a host name (or address) with an optional port"
    return None


def _limit_idle_time(environ: WSGIEnvironment, seconds: float) -> None:
    """A client that stalls (a body that stops arriving, an answer it stops reading) is cut off
    after `seconds` of silence: its socket read or write fails, so a capture is stored as
    incomplete and answered 400 rather than holding its connection for ever. gunicorn hands the
    connection's socket on in the environ; other servers keep their own timeouts."""
    sock = environ.get("gunicorn.socket")
    if sock is not None and seconds > 0:
        sock.settimeout(seconds)


def capture(environ: WSGIEnvironment, bin_id: str, tally: Tally) -> Response | DefaultAnswer:
    """Store the request addressed to `/h/<bin_id>...` and build the bin's answer; say in
    `tally` how it ended."""
    limit = current_app.config["MAX_BODY_BYTES"]
    captured = capture_request(
        environ,
        bin_id,
        max_body_bytes=limit,
        trusted_proxies=int(current_app.config["TRUSTED_PROXIES"]),
        received_at=current_app.extensions["hookloupe.clock"](),
    )
    tally.body_size = captured.body_size
    # Detection and verification read stored rows later; only a possible handshake needs to
    # know the sender (and the bin's settings) before the row is stored.
    detection = reply = None
    if might_be_handshake(captured):
        target = capture_store.capture_target(bin_id)
        if target is None or target.has_expired(captured.received_at):
            tally.end("refused_no_bin")
            return _no_bin(bin_id) if target is None else _expired(bin_id, target.expires_at)
        detection, reply = answer_handshake(
            captured,
            enabled=target.handshakes,
            # Only a handshake answered with a secret (Zoom's) decrypts the bin's secrets.
            load_secrets=lambda: secret_values(store.list_secrets(target.bin_id), current_app.config["SECRET_KEY"]),
        )
    stored = capture_store.store_capture(
        bin_id,
        captured,
        # A capture that already went through a Hookloupe is never forwarded again (no loops).
        forward=not outbound.incoming_hop(captured.headers),
        detection=detection,
        handshake=f"answered the {detection.name} endpoint-verification handshake" if reply and detection else None,
    )
    # Timed before a bin's configured delay (bin_response): that wait is the bin's, not ours.
    tally.end(_outcome(stored, captured))
    if stored is None:
        return _no_bin(bin_id)
    if isinstance(stored, capture_store.BinExpired):
        return _expired(bin_id, stored.expires_at)
    if captured.body_incomplete:
        return _incomplete(captured, stored.capture_id)
    if captured.body_truncated:
        return json_answer(
            413,
            {
                "error": f"body of {captured.body_size} bytes is over the {limit}-byte limit; "
                f"the first {limit} bytes were stored",
                "request_id": stored.capture_id,
            },
        )
    if reply is not None:
        return _reply_response(reply)
    return bin_response(stored.response, stored.capture_id)


def _outcome(stored: capture_store.StoredCapture | capture_store.BinExpired | None, captured: CapturedRequest) -> str:
    """How a capture that reached the database ended, as metrics.py counts it."""
    if not isinstance(stored, capture_store.StoredCapture):
        return "refused_no_bin"
    if captured.body_incomplete:
        return "incomplete"
    return "truncated" if captured.body_truncated else "stored"


def _incomplete(captured: CapturedRequest, capture_id: int) -> Response:
    """400 for a body that ended early: stored as it arrived, marked incomplete, never taken
    for a whole webhook. (gunicorn then closes the connection: its framing is lost.)"""
    declared = captured.header("Content-Length")
    what = f"of the {declared} bytes its Content-Length declared" if declared else "its chunked framing promised"
    return json_answer(
        400,
        {
            "error": f"the body ended after {captured.body_size} bytes, short {what}; "
            "what arrived was stored, marked incomplete",
            "request_id": capture_id,
        },
    )


def _no_bin(bin_id: str) -> Response:
    return json_answer(404, {"error": f"no bin named {bin_id!r}"})


def _expired(bin_id: str, expires_at: datetime | None) -> Response:
    when = f" at {iso(expires_at)}" if expires_at else ""
    return json_answer(410, {"error": f"bin {bin_id!r} expired{when}; nothing was stored"})


def _reply_response(reply: Reply) -> Response:
    response = Response(reply.body, status=reply.status)
    for name, value in reply.headers:
        response.headers[name] = value
    return sandboxed(response)


def bin_response(settings: ResponseSettings, capture_id: int) -> Response | DefaultAnswer:
    """The bin's configured answer (default `200 {"ok": true, "request_id": N}`)."""
    if settings.delay_ms:
        time.sleep(settings.delay_ms / 1000)
    if settings.body is None and not settings.headers:  # the common case, kept cheap
        return DefaultAnswer(settings.status, capture_id)
    if settings.body is None:
        response = json_answer(settings.status, {"ok": True, "request_id": capture_id})
    else:
        response = Response(settings.body, status=settings.status, content_type="text/plain; charset=utf-8")
    for name, value in sendable(settings.headers):
        if name.lower() == "content-type":
            response.headers["Content-Type"] = value
        else:
            response.headers.add(name, value)
    return sandboxed(response)


def sendable(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers the server can put on the wire. PATCH accepts no others, but a bin saved by
    an earlier release may hold one (a line break, say): the capture is already stored, so the
    sender gets the answer without it rather than a 500 that makes it retry."""
    kept = []
    for name, value in headers:
        try:
            kept.append(check_header(name, value, "response header"))
        except InvalidInput:
            log.warning("bin response header %.100r cannot be sent; left out", name)
    return kept


class DefaultAnswer:
    """The default answer `{"ok": true, "request_id": N}` as a bare WSGI response: it is what
    almost every capture gets, and building a full Response object costs more than it says."""

    def __init__(self, status: int, capture_id: int) -> None:
        self.status = f"{status} {HTTP_STATUS_CODES.get(status, 'Status')}"
        self.body = b'{"ok": true, "request_id": %d}' % capture_id

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(self.body))), *_SANDBOX_HEADERS]
        start_response(self.status, headers)
        return [self.body]


def sandboxed(response: Response) -> Response:
    """Add our sandbox headers once; a bin's own CSP stays and both apply."""
    for name, value in _SANDBOX_HEADERS:
        if value not in response.headers.getlist(name):
            response.headers.add(name, value)
    return response


def json_answer(status: int, payload: dict[str, Any]) -> Response:
    return sandboxed(Response(json.dumps(payload), status=status, content_type="application/json"))
