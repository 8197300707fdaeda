"""A capture's owner marks and second tries: pin, note (page and `PATCH /api/…/requests/<id>`), retry.

A pinned capture is kept by pruning and clear-all (store/cleanup.py); a note is the owner's
short remark, shown in the list and the detail pane. "Retry" sends a capture again to the
exact URL of one of its deliveries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, make_response, render_template, request

from inspector import store
from inspector.bins import InvalidInput, check_text, parse_flag
from inspector.delivery import forward as delivery
from inspector.models import Capture
from inspector.shapes import request_json
from inspector.store import pins
from inspector.views.common import (
    as_shown,
    bin_or_404,
    capture_or_404,
    check_target,
    json_object,
    listed_row,
    note_activity,
    owner_redaction,
    refuse_foreign_mutation,
)
from inspector.views.pages.context import bin_url, deliveries_context, delivery_view

bp = Blueprint("request_meta", __name__)

MAX_NOTE = 500


bp.before_request(refuse_foreign_mutation)


def parse_note(value: object) -> str | None:
    """A note: text of at most MAX_NOTE characters without control characters but tab, spaces
    around it dropped; None (no note) for null or blank text. InvalidInput otherwise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("note must be a string or null")
    note = check_text(value, "note").strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"note must be at most {MAX_NOTE} characters")
    if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in note):
        raise InvalidInput("note must be one line of text (no line breaks or other control characters)")
    return note or None


@bp.patch("/api/bins/<bin_id>/requests/<int:capture_id>")
def update_request(bin_id: str, capture_id: int) -> Response:
    """`{"pinned"?: bool, "note"?: str|null}`: pin or unpin the capture, set or clear its note;
    answers the Request. 400 for an unknown field or a bad value, or a 101st pin."""
    bin_ = bin_or_404(bin_id)
    data = json_object()
    unknown = set(data) - {"pinned", "note"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    if "pinned" in data:
        changes["pinned"] = parse_flag(data["pinned"], "pinned")
    if "note" in data:
        changes["note"] = parse_note(data["note"])
    row = _save(bin_id, capture_id, **changes)
    return jsonify(request_json(as_shown(row, owner_redaction(bin_))))


@bp.post("/bins/<bin_id>/requests/<int:capture_id>/pin")
def toggle_pin(bin_id: str, capture_id: int) -> Response:
    """Pin (`pinned=1`) or unpin the capture from the detail pane: answers the pane's pin and
    note block, and the list row again (out of band) with its pin mark."""
    bin_or_404(bin_id)
    try:
        row = _save(bin_id, capture_id, pinned=request.form.get("pinned") == "1")
    except InvalidInput as error:
        return _block(capture_or_404(bin_id, capture_id), error=str(error), status=400)
    return _block(row, message="Pinned: pruning and “Clear all” keep it." if row.pinned else "Unpinned.")


@bp.post("/bins/<bin_id>/requests/<int:capture_id>/note")
def save_note(bin_id: str, capture_id: int) -> Response:
    """Save the note from the detail pane (empty clears it); 400 with the reason in place."""
    bin_or_404(bin_id)
    try:
        row = _save(bin_id, capture_id, note=parse_note(request.form.get("note", "")))
    except InvalidInput as error:
        return _block(capture_or_404(bin_id, capture_id), error=str(error), status=400, sent=request.form.get("note"))
    return _block(row, message="Note saved." if row.note else "Note cleared.")


@bp.post("/bins/<bin_id>/requests/<int:capture_id>/deliveries/<int:delivery_id>/retry")
def retry_delivery(bin_id: str, capture_id: int, delivery_id: int) -> tuple[str, int] | str:
    """Send the capture again, as captured, to the exact URL (and with the method) of one of
    its deliveries; answers like the replay form (the result, and the deliveries list out of
    band). 404 when the delivery is not this capture's; 400 when its URL is refused now."""
    bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    previous = store.get_delivery(capture_id, delivery_id)
    if previous is None:
        abort(404, description=f"no delivery {delivery_id} of request {capture_id}")
    try:
        url = check_target(previous.url)
    except InvalidInput as error:
        return render_template("partials/_replay_result.html", error=str(error), delivery=None), 400
    note = f"retry of delivery #{previous.id}"
    outgoing = replace(delivery.plan(row, url), url=url, method=previous.method, note=note)
    sent = delivery.replay(row, outgoing, current_app.config)
    note_activity(bin_id, "replay", f"request #{capture_id} to {url} ({note}) → {sent.status_code or sent.error}")
    return render_template("partials/_replay_result.html", error=None, delivery=delivery_view(sent)) + render_template(
        "partials/_deliveries.html", oob=True, **deliveries_context(bin_id, row)
    )


def _save(bin_id: str, capture_id: int, **changes: Any) -> Capture:
    """Apply the pin/note changes (404 when the capture is not in the bin; InvalidInput for a
    pin beyond pins.MAX_PINNED) and note them in the activity log."""
    try:
        row = pins.set_pin_and_note(bin_id, capture_id, **changes)
    except pins.TooManyPinsError as error:
        raise InvalidInput(str(error)) from None
    if row is None:
        abort(404, description=f"no request {capture_id} in bin {bin_id!r}")
    words = []
    if "pinned" in changes:
        words.append("pinned" if changes["pinned"] else "unpinned")
    if "note" in changes:
        words.append("note set" if changes["note"] else "note cleared")
    note_activity(bin_id, "request_meta", f"request #{capture_id}: {', '.join(words) or 'no change'}")
    return row


def _block(row: Capture, *, error: str = "", message: str = "", status: int = 200, sent: str | None = None) -> Response:
    """The detail pane's pin and note block, plus the list row (out of band) as the list shows it."""
    bin_ = bin_or_404(row.bin_id)
    url = bin_url(row.bin_id)
    html = render_template("partials/_settings_pin.html", row=row, bin_url=url, error=error, message=message, sent=sent)
    shown = listed_row(row, owner_redaction(bin_))
    html += render_template("partials/_request_row.html", row=shown, bin_url=url, oob=True)
    return make_response(html, status)
