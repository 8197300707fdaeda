"""Helpers shared by the views (no routes here): the public base URL, JSON bodies, target
URLs, lookups that answer 404, and event-stream responses. Route modules import this module,
never each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, abort, current_app, jsonify, request

from inspector import store, stream
from inspector.bins import InvalidInput, is_http_url
from inspector.delivery.forward import is_own_capture_url
from inspector.models import Bin, Capture


def base_url() -> str:
    """The public base URL for links: BASE_URL when set, else what the client called."""
    return (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")


def json_object() -> dict[str, Any]:
    """The request's JSON object body ({} when empty); InvalidInput when it is not an object."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def own_bases() -> list[str]:
    """The base URLs under which this server's capture URLs are reachable, as far as we know."""
    return [b for b in (request.host_url, current_app.config.get("BASE_URL")) if b]


def check_target(url: object) -> str:
    """A usable target URL, else InvalidInput (not http(s), or this server's own capture URL)."""
    if not isinstance(url, str) or not is_http_url(url):
        raise InvalidInput("url must be an absolute http:// or https:// URL")
    if is_own_capture_url(url, own_bases()):
        raise InvalidInput("refusing to send to this server's own capture URL: it would loop")
    return url


def bin_or_404(bin_id: str) -> Bin:
    """The bin, or a 404 naming it."""
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        abort(404, description=f"no bin named {bin_id!r}")
    return bin_


def capture_or_404(bin_id: str, capture_id: int) -> Capture:
    """The capture of that bin, or a 404 naming it."""
    row = store.get_capture(bin_id, capture_id)
    if row is None:
        abort(404, description=f"no request {capture_id} in bin {bin_id!r}")
    return row


def is_htmx() -> bool:
    """True when htmx (not a plain navigation) sent the request."""
    return request.headers.get("HX-Request") == "true"


def event_stream_response(
    bin_id: str,
    last_id: int,
    render: Callable[[Capture], str | None],
    *,
    event: str,
    render_update: Callable[[Capture], str | None] | None = None,
) -> Response:
    """A text/event-stream response of the bin's new captures (see stream.capture_events)
    holding one of this worker's stream slots; 503 with Retry-After when none is free."""
    slots: stream.StreamSlots = current_app.extensions["hookloupe.stream_slots"]
    if not slots.try_take():
        response = jsonify(error="too many open event streams on this worker; retry shortly")
        response.status_code = 503
        response.headers["Retry-After"] = "2"
        return response
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy, typed as Flask
    events = stream.capture_events(app, bin_id, last_id, render, event=event, render_update=render_update)
    return Response(
        stream.guarded(slots, events),
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
