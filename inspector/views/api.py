"""The JSON API of DESIGN §4: bins, captures, their raw bodies and the event stream."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import text

from inspector import store, stream
from inspector.bins import (
    InvalidInput,
    check_custom_name,
    new_bin_id,
    parse_flag,
    parse_forward,
    parse_max_requests,
    parse_public_base,
    parse_response,
)
from inspector.db import db
from inspector.shapes import bin_json, request_json, summary_json
from inspector.signing import analysis as judging
from inspector.signing.verify import STATUSES
from inspector.views.common import base_url, bin_or_404, capture_or_404, check_target, json_object, verdict_base

bp = Blueprint("api", __name__)

MAX_PAGE = 500
DEFAULT_PAGE = 50


@bp.errorhandler(InvalidInput)
def _invalid_input(error: InvalidInput):
    return jsonify(error=str(error)), 400


def _bin_payload(bin_) -> dict:
    return bin_json(
        bin_,
        base_url=base_url(),
        request_count=store.count_captures(bin_.id),
        default_max=current_app.config["MAX_REQUESTS_PER_BIN"],
    )


def _int_arg(name: str, *, low: int, high: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise InvalidInput(f"{name} must be an integer {bound}")
    return int(raw)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        return jsonify(ok=False, error="database unavailable"), 503
    return jsonify(ok=True)


@bp.post("/api/bins")
def create_bin():
    data = json_object()
    name = data.get("name")
    bin_id = check_custom_name(name) if name is not None else new_bin_id()
    try:
        bin_ = store.create_bin(bin_id, datetime.now(UTC))
    except store.BinExistsError:
        return jsonify(error=f"a bin named {bin_id!r} already exists"), 409
    return jsonify(_bin_payload(bin_)), 201


@bp.get("/api/bins/<bin_id>")
def show_bin(bin_id: str):
    return jsonify(_bin_payload(bin_or_404(bin_id)))


@bp.patch("/api/bins/<bin_id>")
def update_bin(bin_id: str):
    bin_ = bin_or_404(bin_id)
    data = json_object()
    unknown = set(data) - {"response", "forward", "max_requests", "handshakes", "public_base_url"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    forward = parse_forward(data["forward"]) if "forward" in data else False
    if forward:
        check_target(forward[0])
    store.save_bin_settings(
        bin_,
        response=parse_response(data["response"]) if "response" in data else None,
        forward=forward,
        max_requests=parse_max_requests(data["max_requests"]) if "max_requests" in data else None,
        handshakes=parse_flag(data["handshakes"], "handshakes") if "handshakes" in data else None,
        public_base_url=parse_public_base(data["public_base_url"]) if "public_base_url" in data else False,
    )
    return jsonify(_bin_payload(bin_))


@bp.delete("/api/bins/<bin_id>")
def delete_bin(bin_id: str):
    if not store.delete_bin(bin_id):
        abort(404, description=f"no bin named {bin_id!r}")
    return "", 204


@bp.get("/api/bins/<bin_id>/requests")
def list_requests(bin_id: str):
    bin_ = bin_or_404(bin_id)
    limit = _int_arg("limit", low=1, high=MAX_PAGE) or DEFAULT_PAGE
    verdict = request.args.get("verdict") or None
    if verdict is not None and verdict not in STATUSES:
        raise InvalidInput(f"verdict must be one of: {', '.join(STATUSES)}")
    secret_key = current_app.config["SECRET_KEY"]
    if verdict or request.args.get("provider") or request.args.get("event"):
        # These filter on analysed columns: analyse what capture stored unanalysed first.
        judging.judge_all_pending(bin_, secret_key, verdict_base(bin_))
    rows = store.list_captures(
        bin_id,
        limit=limit,
        before=_int_arg("before", low=0),
        after=_int_arg("after", low=0),
        q=request.args.get("q") or None,
        provider=request.args.get("provider") or None,
        event=request.args.get("event") or None,
        verdict=verdict,
    )
    judging.judge_rows(rows, bin_id, secret_key, verdict_base(bin_))
    next_before = rows[-1].id if len(rows) == limit else None
    return jsonify(requests=[summary_json(row) for row in rows], next_before=next_before)


@bp.get("/api/bins/<bin_id>/requests/<int:capture_id>")
def show_request(bin_id: str, capture_id: int):
    """The capture with a fresh verdict; `?at=now` judges timestamps against the current time
    instead of the arrival time ("check now")."""
    bin_ = bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    return jsonify(request_json(row, verify(bin_, row, check_now=request.args.get("at") == "now")))


def verify(bin_, row, *, check_now: bool = False):
    """The full verdict on one capture (as of its arrival, or now with `check_now`); the
    capture is analysed first if nobody has looked at it yet (its provider columns)."""
    secret_key, base = current_app.config["SECRET_KEY"], verdict_base(bin_)
    judging.judge_rows([row], bin_.id, secret_key, base)
    secrets = judging.secret_values(store.list_secrets(bin_.id), secret_key)
    return judging.judge_row(row, secrets, base, at=datetime.now(UTC) if check_now else None)


@bp.get("/api/bins/<bin_id>/requests/<int:capture_id>/raw")
def raw_body(bin_id: str, capture_id: int):
    row = capture_or_404(bin_id, capture_id)
    return Response(
        row.body,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{bin_id}-{capture_id}.bin"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.delete("/api/bins/<bin_id>/requests")
def clear_requests(bin_id: str):
    bin_or_404(bin_id)
    store.clear_captures(bin_id)
    return "", 204


@bp.delete("/api/bins/<bin_id>/requests/<int:capture_id>")
def delete_request(bin_id: str, capture_id: int):
    if not store.delete_capture(bin_id, capture_id):
        abort(404, description=f"no request {capture_id} in bin {bin_id!r}")
    return "", 204


@bp.get("/api/bins/<bin_id>/events")
def events(bin_id: str):
    """SSE of new captures. Resumes after `Last-Event-ID` (or `?after=`); with neither, starts
    from now. A worker holding its maximum of streams answers 503 with Retry-After."""
    bin_or_404(bin_id)
    last_id = stream.parse_last_event_id(request.headers.get("Last-Event-ID"), request.args.get("after"))
    if last_id is None:
        newest = store.list_captures(bin_id, limit=1)
        last_id = newest[0].id if newest else 0
    secret_key, base = current_app.config["SECRET_KEY"], verdict_base(bin_or_404(bin_id))

    def render(row):
        judging.judge_rows([row], bin_id, secret_key, base)
        return stream.summary_data(summary_json(row))

    return event_stream_response(bin_id, last_id, render, event="request")


def event_stream_response(bin_id: str, last_id: int, render, *, event: str) -> Response:
    """A text/event-stream response holding one of this worker's stream slots."""
    slots: stream.StreamSlots = current_app.extensions["hookloupe.stream_slots"]
    if not slots.try_take():
        response = jsonify(error="too many open event streams on this worker; retry shortly")
        response.status_code = 503
        response.headers["Retry-After"] = "2"
        return response
    app = current_app._get_current_object()
    events_iter = stream.guarded(slots, stream.capture_events(app, bin_id, last_id, render, event=event))
    return Response(
        events_iter,
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
