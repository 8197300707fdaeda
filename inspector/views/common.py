"""Helpers shared by the views (no routes here): the public base URL, JSON bodies, target
URLs, input limits, the URL converters, lookups that answer 404, and event-stream responses.
Route modules import this module, never each other."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, current_app, g, jsonify, request
from werkzeug.routing import IntegerConverter, Map, UnicodeConverter

from inspector import redacted_view, redaction, store, stream
from inspector.access.principal import OPEN, Principal
from inspector.bins import MAX_ID, InvalidInput, Limits, check_http_url, is_http_url, with_default_scheme
from inspector.delivery.forward import is_own_capture_url
from inspector.models import Bin, Capture
from inspector.safejson import JSONLimitError, loads_bounded
from inspector.shapes import iso
from inspector.store import access as access_store
from inspector.store import activity


def base_url() -> str:
    """The public base URL for links: BASE_URL when set, else what the client called."""
    return (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")


def is_api_path(path: str) -> bool:
    """Paths answered in JSON (and never with a page): the API, capture, health and metrics."""
    return path.startswith(("/api/", "/h/")) or path in ("/healthz", "/metrics")


def refusal(status: int, reason: str) -> Response:
    """A guard's refusal: JSON for the API, plain text for pages."""
    if is_api_path(request.path):
        response = jsonify(error=reason)
        response.status_code = status
        return response
    return Response(f"{status}: {reason}", status=status, content_type="text/plain; charset=utf-8")


def json_object() -> dict[str, Any]:
    """The request's JSON object body ({} when empty), read up to MAX_API_BODY_BYTES (413
    beyond). InvalidInput when it is not a JSON object, or nests too deeply to parse: the
    parse is bounded (safejson), so no body can exhaust the stack."""
    limit = int(current_app.config["MAX_API_BODY_BYTES"])
    # Werkzeug stops reading a chunked body at the maximum without an error: allowing one byte
    # more tells a body over the limit from one that just fits.
    request.max_content_length = limit + 1
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        abort(413, description=f"the request body is over the {limit}-byte limit")
    if not raw:
        return {}
    try:
        data = loads_bounded(raw, max_bytes=limit) if request.is_json else None
    except JSONLimitError as error:
        raise InvalidInput(f"the request body cannot be used: {error}") from None
    except ValueError:  # not JSON, or not UTF-8/16/32
        data = None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def input_limits() -> Limits:
    """The app's limits on input (config.py, "Limits on input")."""
    return Limits.from_config(current_app.config)


def own_bases() -> list[str]:
    """The base URLs under which this server's capture URLs are reachable, as far as we know
    (a Host header naming an impossible port names none of them)."""
    return [b for b in (request.host_url, current_app.config.get("BASE_URL")) if b and is_http_url(b)]


def check_target(url: object) -> str:
    """A usable target URL, else InvalidInput (not http(s), a port out of range, a control
    character, or this server's own capture URL). `localhost:3000/x` without a scheme means
    `http://localhost:3000/x` (bins.with_default_scheme)."""
    url = check_http_url(with_default_scheme(url), "url")
    if is_own_capture_url(url, own_bases()):
        raise InvalidInput("refusing to send to this server's own capture URL: it would loop")
    return url


def digits_at_most(limit: int) -> str:
    """A regex matching the ASCII digit strings whose value is at most `limit` and that are no
    longer than it: `[0-9]{1,2}|[0-2][0-9]{2}|3[0-3][0-9]{1}|34[0-4]|345` for 345."""
    digits = str(limit)
    choices = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for index, digit in enumerate(digits):
        rest = len(digits) - index - 1
        if digit != "0":
            choices.append(digits[:index] + f"[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    return "|".join([*choices, digits])


class IdConverter(IntegerConverter):
    """`<int:...>` in this app: ASCII digits only (werkzeug's also takes "١٢" and fullwidth
    digits) and at most MAX_ID, so every id reaching a query fits a database integer. The
    bound is in the pattern: a segment beyond it matches no route, a plain 404 (refusing it in
    `to_python` instead makes werkzeug answer 405 when another method's route has that path)."""

    regex = f"(?:{digits_at_most(MAX_ID)})"


class TextConverter(UnicodeConverter):
    """The default converter (`<bin_id>`) in this app: a segment holding NUL names nothing (no
    id can hold it, and PostgreSQL refuses it in a query), so it matches no route (404)."""

    def __init__(self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None):
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]", 1)  # werkzeug's pattern, less NUL


# Registered by create_app before any route, replacing werkzeug's converters of these names.
URL_CONVERTERS = {"int": IdConverter, "default": TextConverter, "string": TextConverter}


def bin_or_404(bin_id: str) -> Bin:
    """The bin, or a 404 naming it; a 410 when it is ephemeral and has expired."""
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        abort(404, description=f"no bin named {bin_id!r}")
    if bin_.expires_at is not None and bin_.expires_at <= datetime.now(UTC):
        abort(410, description=f"bin {bin_id!r} expired at {iso(bin_.expires_at)}")
    return bin_


def capture_or_404(bin_id: str, capture_id: int) -> Capture:
    """The capture of that bin, or a 404 naming it (a 410 when the bin has expired)."""
    bin_or_404(bin_id)
    row = store.get_capture(bin_id, capture_id)
    if row is None:
        abort(404, description=f"no request {capture_id} in bin {bin_id!r}")
    return row


# Browsers label every request with where it came from; only these may change anything.
_OWN_FETCHES = ("same-origin", "none")


def refuse_foreign_mutation() -> None:
    """A page blueprint's before_request: a mutation must come from our own pages' htmx. A
    cross-site form cannot set HX-Request (a custom header needs a CORS preflight we never
    grant), and Sec-Fetch-Site, when the browser sends it, must say same-origin. Origin is not
    compared with the Host, which a reverse proxy may rewrite. API routes are guarded apart
    (views/security.py: JSON only)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
        return None
    if not is_htmx() or request.headers.get("Sec-Fetch-Site", "same-origin") not in _OWN_FETCHES:
        abort(403, description="cross-site request refused")
    return None


def no_store(response: Response) -> Response:
    """An after_request: pages holding captured data, tokens or links are never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


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
    render_key: Hashable | None = None,
    alive: Callable[[], bool] | None = None,
) -> Response:
    """A text/event-stream response of the bin's new captures (see stream.capture_events)
    holding one of this worker's stream slots; 503 with Retry-After when none is free.
    Streams with the same `render_key` share each row's rendered text; `alive` ends the
    stream when it turns false (stream.capture_events)."""
    slots: stream.StreamSlots = current_app.extensions["hookloupe.stream_slots"]
    if not slots.try_take():
        response = jsonify(error="too many open event streams on this worker; retry shortly")
        response.status_code = 503
        response.headers["Retry-After"] = "2"
        return response
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy, typed as Flask
    who = principal()
    if alive is None and who.token_id is not None:  # a revoked token ends the streams it opened
        token_id = who.token_id
        alive = lambda: access_store.token_is_live(token_id)  # noqa: E731 - a one-line closure
    events = stream.capture_events(
        app, bin_id, last_id, render, event=event, render_update=render_update, render_key=render_key, alive=alive
    )
    return Response(
        stream.guarded(slots, events),
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def access_control_on() -> bool:
    """Whether the instance has access control: a password or a trusted SSO header (DESIGN §8)."""
    return bool(current_app.config.get("PASSWORD") or current_app.config.get("AUTH_HEADER"))


def principal() -> Principal:
    """Who the current request acts as (set by the access guard, views/auth.py)."""
    found: Principal | None = g.get("principal")
    return found or OPEN


def note_activity(bin_id: str, action: str, detail: str = "") -> None:
    """Record in the bin's activity log that the current principal did `action`."""
    activity.record(bin_id, principal().actor, action, detail, datetime.now(UTC))


def owner_redaction(bin_: Bin) -> redaction.Rules | None:
    """The bin's rules when what its owner is shown is redacted (`?redact=true`, or the bin's
    `for_owner` rule); None when the owner sees the values as stored."""
    rules = redaction.rules_of(bin_)
    return rules if rules.for_owner or request.args.get("redact") in ("true", "1") else None


def as_shown(row: Capture, rules: redaction.Rules | None) -> Capture:
    """The capture as the viewer sees it: a redacted copy under `rules`, else the row itself."""
    return redacted_view.redacted_copy(row, rules) if rules is not None else row


# What a list row shows (_request_row.html): all a redacted row copy holds.
_ROW_COLUMNS = (
    "id",
    "received_at",
    "method",
    "path",
    "content_type",
    "body_size",
    "provider_id",
    "event",
    "verdict",
    "pinned",
    "note",
)


def listed_row(row: Capture, rules: redaction.Rules | None) -> Capture:
    """A list row as shown under `rules` (the row itself when None): a transient copy of only
    the columns a row shows, its query string redacted. List rows are read without their
    bodies, and a stream's rows are detached from any session, so redacted_copy (which reads
    the body) cannot take them; its event is shown as redacted_view says (the path never is
    redacted)."""
    if rules is None:
        return row
    query, _notes = redaction.redact_query(row.query_string, rules)
    shown = Capture(**{name: getattr(row, name) for name in _ROW_COLUMNS}, query_string=query)
    shown.event = redacted_view.shown(row, "event", rules)
    return shown
