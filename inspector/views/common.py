"""Helpers shared by the JSON views: the public base URL, JSON bodies, target URLs."""

from __future__ import annotations

from flask import abort, current_app, request

from inspector import store
from inspector.bins import InvalidInput, is_http_url
from inspector.delivery.forward import is_own_capture_url


def base_url() -> str:
    """The public base URL for links: BASE_URL when set, else what the client called."""
    return (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")


def json_object() -> dict:
    """The request's JSON object body ({} when empty); InvalidInput when it is not an object."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def verdict_base(bin_) -> str:
    """The base URL senders call (the bin's override, else BASE_URL or the request's host),
    for verifying URL-signing providers."""
    return bin_.public_base_url or base_url()


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


def bin_or_404(bin_id: str):
    """The bin, or a 404 naming it."""
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        abort(404, description=f"no bin named {bin_id!r}")
    return bin_


def capture_or_404(bin_id: str, capture_id: int):
    """The capture of that bin, or a 404 naming it."""
    row = store.get_capture(bin_id, capture_id)
    if row is None:
        abort(404, description=f"no request {capture_id} in bin {bin_id!r}")
    return row
