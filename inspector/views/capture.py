"""ANY /h/<bin>[/<path>]: store the request exactly, then answer with the bin's response."""

from __future__ import annotations

import json
import time
from flask import Flask, Response, current_app, request
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import Rule

from .. import outbound, providers, store
from ..bins import ResponseSettings
from ..capture import capture_request
from ..handshakes import handshake_reply
from ..judging import secret_values

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
        received_at=current_app.extensions["hookloupe.clock"](),
    )
    detection = providers.detect(captured)
    reply = _handshake(bin_, captured, detection)
    # A capture that already went through a Hookloupe is never forwarded again (no loops).
    forward_to = bin_.forward_url if bin_.forward_enabled and not outbound.incoming_hop(captured.headers) else None
    try:
        capture_id = store.add_capture(
            bin_id,
            captured,
            forward_url=forward_to,
            detection=detection,
            handshake=f"answered the {detection.name} endpoint-verification handshake" if reply else None,
        )
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
    if reply is not None:
        return _reply_response(reply)
    return bin_response(settings, capture_id)


# Providers whose endpoint verification Hookloupe answers (see handshakes.py).
_HANDSHAKE_PROVIDERS = {"slack", "zoom", "meta", "microsoft-graph", "twitch"}


def _handshake(bin_, captured, detection):
    """The handshake reply for this capture, if the bin answers handshakes and it is one.
    Secrets are only decrypted for a provider that needs one (Zoom)."""
    if not bin_.handshakes or detection is None or detection.provider_id not in _HANDSHAKE_PROVIDERS:
        return None
    secrets = []
    if detection.provider_id == "zoom":
        secrets = secret_values(store.list_secrets(bin_.id), current_app.config["SECRET_KEY"])
    return handshake_reply(captured, detection, secrets)


def _reply_response(reply) -> Response:
    response = Response(reply.body, status=reply.status)
    for name, value in reply.headers:
        response.headers[name] = value
    return sandboxed(response)


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
    return sandboxed(response)


def sandboxed(response: Response) -> Response:
    """Add our sandbox headers once; a bin's own CSP stays and both apply."""
    for name, value in _SANDBOX_HEADERS:
        if value not in response.headers.getlist(name):
            response.headers.add(name, value)
    return response


def json_answer(status: int, payload: dict) -> Response:
    return sandboxed(Response(json.dumps(payload), status=status, content_type="application/json"))
