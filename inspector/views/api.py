"""The JSON API of DESIGN §4: bins, captures, their raw bodies and the event stream."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import text

from inspector import matchers as matching
from inspector import metrics, redaction, store, stream, waits
from inspector.analyser import verify_now
from inspector.bins import (
    MAX_ID,
    InvalidInput,
    ascii_int,
    check_custom_name,
    check_text,
    new_bin_id,
    parse_expires_in,
    parse_flag,
    parse_forward,
    parse_max_requests,
    parse_public_base,
    parse_response,
)
from inspector.db import db
from inspector.models import Bin, Capture
from inspector.shapes import bin_json, request_json, stats_json, summary_json
from inspector.store.captures import SCAN_ROWS
from inspector.views.common import (
    as_shown,
    base_url,
    bin_or_404,
    capture_or_404,
    check_target,
    event_stream_response,
    input_limits,
    json_object,
    note_activity,
    owner_redaction,
)

bp = Blueprint("api", __name__)

# The settings PATCH accepts, each with the function that checks and converts its value
# (to the type of the `save_bin_settings` argument of that name).
_SETTINGS: dict[str, Callable[[object], Any]] = {
    "response": lambda value: parse_response(value, input_limits()),
    "forward": parse_forward,
    "max_requests": parse_max_requests,
    "handshakes": lambda value: parse_flag(value, "handshakes"),
    "public_base_url": parse_public_base,
    "redact": redaction.parse_rules,
}
MAX_PAGE = 500
DEFAULT_PAGE = 50
# A wait holds its request at most this long (DESIGN §4); longer waits are several calls.
MAX_WAIT_S = 60
DEFAULT_WAIT_S = 30


def _bin_payload(bin_: Bin) -> dict[str, Any]:
    return bin_json(
        bin_,
        base_url=base_url(),
        request_count=store.count_captures(bin_.id),
        default_max=current_app.config["MAX_REQUESTS_PER_BIN"],
    )


def _int_arg(name: str, *, low: int, high: int = MAX_ID) -> int | None:
    """Query argument `name` as an integer from `low` to `high` in ASCII digits; None when
    absent or empty, else InvalidInput saying the range."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    value = ascii_int(raw)
    if value is None or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high} in ASCII digits")
    return value


def _text_arg(name: str) -> str | None:
    """Query argument `name`; None when absent or empty, InvalidInput when it holds NUL."""
    return check_text(request.args.get(name) or "", name) or None


@bp.get("/healthz")
def healthz() -> Response | tuple[Response, int]:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        return jsonify(ok=False, error="database unavailable"), 503
    return jsonify(ok=True)


@bp.post("/api/bins")
def create_bin() -> tuple[Response, int]:
    data = json_object()
    unknown = set(data) - {"name", "expires_in_s"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    name = data.get("name")
    bin_id = check_custom_name(name) if name is not None else new_bin_id()
    now = datetime.now(UTC)
    expires_in = parse_expires_in(data.get("expires_in_s"))
    try:
        bin_ = store.create_bin(bin_id, now, expires_at=now + timedelta(seconds=expires_in) if expires_in else None)
    except store.BinExistsError:
        return jsonify(error=f"a bin named {bin_id!r} already exists"), 409
    return jsonify(_bin_payload(bin_)), 201


@bp.get("/api/bins/<bin_id>")
def show_bin(bin_id: str) -> Response:
    return jsonify(_bin_payload(bin_or_404(bin_id)))


@bp.patch("/api/bins/<bin_id>")
def update_bin(bin_id: str) -> Response:
    bin_ = bin_or_404(bin_id)
    data = json_object()
    unknown = set(data) - set(_SETTINGS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    changes = {name: _SETTINGS[name](value) for name, value in data.items()}
    if changes.get("forward"):
        check_target(changes["forward"][0])
    store.save_bin_settings(bin_, **changes)
    note_activity(bin_id, "settings", "changed " + ", ".join(sorted(changes)) if changes else "no change")
    return jsonify(_bin_payload(bin_))


@bp.delete("/api/bins/<bin_id>")
def delete_bin(bin_id: str) -> tuple[str, int]:
    store.clear_captures(bin_id)  # in batches first: one large DELETE would stall capture
    if not store.delete_bin(bin_id):
        abort(404, description=f"no bin named {bin_id!r}")
    note_activity(bin_id, "delete_bin")
    return "", 204


def _matchers(*own: str) -> matching.Matchers:
    """The request's matcher parameters (DESIGN §4); `own` are the route's other parameters."""
    return matching.parse(request.args.items(multi=True), ignore=own)


@bp.get("/api/bins/<bin_id>/requests")
def list_requests(bin_id: str) -> Response:
    rules = owner_redaction(bin_or_404(bin_id))
    wanted = _matchers("limit", "before", "after", "q", "redact")
    limit = _int_arg("limit", low=1, high=MAX_PAGE) or DEFAULT_PAGE
    # A search that reads rows (q, text, json, …) looks at a bounded share of a large bin per
    # call, so one request never holds its worker for long; next_before says where to go on.
    rows = store.list_captures(
        bin_id,
        limit=limit,
        before=_int_arg("before", low=0),
        after=_int_arg("after", low=0),
        q=_text_arg("q"),
        matchers=wanted,
        scan_rows=SCAN_ROWS,
    )
    next_before = rows[-1].id if len(rows) == limit else rows.scanned_to
    return jsonify(requests=[summary_json(as_shown(row, rules)) for row in rows], next_before=next_before)


@bp.get("/api/bins/<bin_id>/requests/count")
def count_requests(bin_id: str) -> Response:
    bin_or_404(bin_id)
    return jsonify(count=store.count_matching(bin_id, _matchers("redact")))


@bp.get("/api/bins/<bin_id>/requests/wait")
def wait_for_request(bin_id: str) -> Response | tuple[Response, int]:
    """Long-poll for the first matching capture (DESIGN §4): always 200 with `request` (or
    null), `timed_out` and `last_id`; a timed-out answer adds `near_misses`. A worker holding
    its maximum of open waits answers 503 with Retry-After."""
    rules = owner_redaction(bin_or_404(bin_id))
    wanted = _matchers("timeout_s", "after", "redact")
    timeout_s = _int_arg("timeout_s", low=0, high=MAX_WAIT_S)
    after = _int_arg("after", low=0)
    if after is None:  # only what arrives from now on
        newest = store.list_captures(bin_id, limit=1)
        after = newest[0].id if newest else 0
    slots: stream.StreamSlots = current_app.extensions["hookloupe.wait_slots"]
    if not slots.try_take():
        response = jsonify(error="too many open waits on this worker; retry shortly")
        response.headers["Retry-After"] = "1"
        return response, 503
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy, typed as Flask
    try:
        with metrics.waiting():
            result = waits.wait_for_capture(
                app,
                bin_id,
                wanted,
                after=after,
                timeout_s=DEFAULT_WAIT_S if timeout_s is None else timeout_s,
                render=lambda row: request_json(as_shown(row, rules)),
            )
    except waits.BinGoneError:
        abort(410, description=f"bin {bin_id!r} was deleted or expired during the wait")
    finally:
        slots.give_back()
    answer: dict[str, Any] = {"request": result.match, "timed_out": result.match is None, "last_id": result.last_id}
    if result.match is None:
        answer["near_misses"] = result.near_misses
    return jsonify(answer)


@bp.get("/api/bins/<bin_id>/requests/<int:capture_id>")
def show_request(bin_id: str, capture_id: int) -> Response:
    """The capture with its stored analysis; `?at=now` verifies it again as if it arrived now
    ("check now": timestamps against the current time; nothing is stored)."""
    bin_ = bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    shown = as_shown(row, owner_redaction(bin_))
    if request.args.get("at") == "now":
        return jsonify(request_json(shown, verify_now(current_app, bin_, row, at=datetime.now(UTC))))
    return jsonify(request_json(shown))


@bp.get("/api/bins/<bin_id>/stats")
def stats(bin_id: str) -> Response:
    """Counts over the bin's captures, exact at every moment (DESIGN §4)."""
    bin_ = bin_or_404(bin_id)
    return jsonify(
        stats_json(
            store.bin_stats(bin_id), max_requests=bin_.max_requests or current_app.config["MAX_REQUESTS_PER_BIN"]
        )
    )


@bp.get("/api/bins/<bin_id>/requests/<int:capture_id>/raw")
def raw_body(bin_id: str, capture_id: int) -> Response:
    row = as_shown(capture_or_404(bin_id, capture_id), owner_redaction(bin_or_404(bin_id)))
    return Response(
        row.body,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{bin_id}-{capture_id}.bin"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.delete("/api/bins/<bin_id>/requests")
def clear_requests(bin_id: str) -> tuple[str, int]:
    bin_or_404(bin_id)
    store.clear_captures(bin_id)
    note_activity(bin_id, "clear")
    return "", 204


@bp.delete("/api/bins/<bin_id>/requests/<int:capture_id>")
def delete_request(bin_id: str, capture_id: int) -> tuple[str, int]:
    if not store.delete_capture(bin_id, capture_id):
        abort(404, description=f"no request {capture_id} in bin {bin_id!r}")
    note_activity(bin_id, "delete_request", f"request #{capture_id}")
    return "", 204


@bp.get("/api/bins/<bin_id>/events")
def events(bin_id: str) -> Response:
    """SSE of new captures that pass the matchers. Resumes after `Last-Event-ID` (or
    `?after=`); with neither, starts from now. A worker holding its maximum of streams
    answers 503 with Retry-After."""
    rules = owner_redaction(bin_or_404(bin_id))
    wanted = _matchers("after", "redact")
    last_id = stream.parse_last_event_id(request.headers.get("Last-Event-ID"), request.args.get("after"))
    if last_id is None:
        newest = store.list_captures(bin_id, limit=1)
        last_id = newest[0].id if newest else 0

    def render(row: Capture) -> str | None:
        if wanted and matching.misses(wanted, row):
            return None
        return stream.summary_data(summary_json(as_shown(row, rules)))

    # Streams with the same matchers share each row's text, unless a matcher or redaction
    # reads bodies (the shared rows carry none).
    key = None if wanted.needs_body or rules else ("api", str(wanted))
    return event_stream_response(bin_id, last_id, render, event="request", render_key=key)
