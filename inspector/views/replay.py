"""Replay a capture to a target now, and list the delivery attempts of a capture."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from inspector import store
from inspector.bins import InvalidInput, check_header
from inspector.delivery.replay import Edits, ResignError, replay_capture
from inspector.shapes import delivery_json
from inspector.views.common import bin_or_404, capture_or_404, check_target, json_object, note_activity

bp = Blueprint("replay", __name__)

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")


def parse_edits(data: dict[str, Any]) -> Edits:
    """Optional edits of a replay: method, headers ([[name, value]]), body_base64."""
    edits: Edits = {}
    if data.get("method") is not None:
        if not isinstance(data["method"], str) or not _METHOD.fullmatch(data["method"]):
            raise InvalidInput("method must be an HTTP method token")
        edits["method"] = data["method"]
    if data.get("headers") is not None:
        headers = data["headers"]
        if not isinstance(headers, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in headers
        ):
            raise InvalidInput("headers must be a list of [name, value] string pairs")
        edits["headers"] = [check_header(name, value, "header") for name, value in headers]
    if data.get("body_base64") is not None:
        try:
            edits["body"] = base64.b64decode(data["body_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise InvalidInput("body_base64 must be valid base64") from None
    return edits


@bp.post("/api/bins/<bin_id>/requests/<int:capture_id>/replay")
def replay(bin_id: str, capture_id: int) -> tuple[Response, int]:
    capture = capture_or_404(bin_id, capture_id)
    data = json_object()
    url = check_target(data.get("url"))
    edits = parse_edits(data)
    if data.get("resign") is not None and not isinstance(data.get("resign"), bool):
        raise InvalidInput("resign must be true or false")
    bin_ = bin_or_404(bin_id)
    try:
        row = replay_capture(
            bin_,
            capture,
            url=url,
            edits=edits,
            resign_it=bool(data.get("resign")),
            config=current_app.config,
        )
    except ResignError as error:
        raise InvalidInput(f"cannot re-sign: {error}") from None
    note_activity(bin_id, "replay", f"request #{capture_id} to {url} → {row.status_code or row.error}")
    return jsonify(delivery_json(row)), 201


@bp.get("/api/bins/<bin_id>/requests/<int:capture_id>/deliveries")
def deliveries(bin_id: str, capture_id: int) -> Response:
    capture_or_404(bin_id, capture_id)
    return jsonify(deliveries=[delivery_json(row) for row in store.list_deliveries(capture_id)])
