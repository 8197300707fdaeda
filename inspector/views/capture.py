"""ANY /h/<bin>[/<path>]: store the request exactly, then answer with the bin's response."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import Rule

from .. import outbound, store
from ..bins import ResponseSettings
from ..capture import capture_request

# Served on the capture URL whatever the bin configures: a response body is never run as a
# page on Hookloupe's origin (a bin could otherwise serve script next to the UI).
_SANDBOX_HEADERS = (
    ("Content-Security-Policy", "sandbox; default-src 'none'"),
    ("X-Content-Type-Options", "nosniff"),
)


def init_app(app: Flask) -> None:
    """Register the capture rules with `methods=None`, which Werkzeug reads as "every
    method": custom ones such as PURGE too, and no automatic OPTIONS answer."""
    for rule in ("/h/<bin_id>", "/h/<bin_id>/", "/h/<bin_id>/<path:path>"):
        app.url_map.add(Rule(rule, endpoint="capture.capture", methods=None, strict_slashes=False))
    app.view_functions["capture.capture"] = capture


def capture(bin_id: str, path: str | None = None) -> Response:
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        return json_answer(404, {"error": f"no bin named {bin_id!r}"})
    settings = store.response_settings(bin_)
    limit = current_app.config["MAX_BODY_BYTES"]
    captured = capture_request(
        request.environ,
        bin_id,
        max_body_bytes=limit,
        trusted_proxies=int(current_app.config["TRUSTED_PROXIES"]),
        received_at=datetime.now(timezone.utc),
    )
    # A capture that already went through a Hookloupe is never forwarded again (no loops).
    forward_to = bin_.forward_url if bin_.forward_enabled and not outbound.incoming_hop(captured.headers) else None
    try:
        capture_id = store.add_capture(bin_id, captured, forward_url=forward_to)
    except IntegrityError:  # the bin was deleted between the lookup and the insert
        return json_answer(404, {"error": f"no bin named {bin_id!r}"})
    if captured.body_truncated:
        return json_answer(
            413,
            {
                "error": f"body of {captured.body_size} bytes is over the {limit}-byte limit; "
                f"the first {limit} bytes were stored",
                "request_id": capture_id,
            },
        )
    return bin_response(settings, capture_id)


def bin_response(settings: ResponseSettings, capture_id: int) -> Response:
    """The bin's configured answer (default `200 {"ok": true, "request_id": N}`)."""
    if settings.delay_ms:
        time.sleep(settings.delay_ms / 1000)
    if settings.body is None:
        response = json_answer(settings.status, {"ok": True, "request_id": capture_id})
    else:
        response = Response(settings.body, status=settings.status, content_type="text/plain; charset=utf-8")
    for name, value in settings.headers:
        if name.lower() == "content-type":
            response.headers["Content-Type"] = value
        else:
            response.headers.add(name, value)
    for name, value in _SANDBOX_HEADERS:
        response.headers.add(name, value)
    return response


def json_answer(status: int, payload: dict) -> Response:
    response = Response(json.dumps(payload), status=status, content_type="application/json")
    for name, value in _SANDBOX_HEADERS:
        response.headers.add(name, value)
    return response
