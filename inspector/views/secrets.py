"""A bin's signing secrets: add (encrypted), list (hints only), delete."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, jsonify

from inspector import store
from inspector.bins import parse_secret
from inspector.shapes import secret_json
from inspector.signing import secretbox
from inspector.views.common import bin_or_404, input_limits, json_object, note_activity

bp = Blueprint("secrets", __name__)


@bp.post("/api/bins/<bin_id>/secrets")
def add_secret(bin_id: str) -> tuple[Response, int]:
    bin_or_404(bin_id)
    label, value, provider = parse_secret(json_object(), input_limits())
    row = store.add_secret(
        bin_id,
        label=label,
        provider=provider,
        ciphertext=secretbox.encrypt(current_app.config["SECRET_KEY"], value),
        hint=secretbox.hint(value),
        now=datetime.now(UTC),
    )
    note_activity(bin_id, "secret_add", f"secret “{label}”")
    return jsonify(secret_json(row)), 201


@bp.get("/api/bins/<bin_id>/secrets")
def list_secrets(bin_id: str) -> Response:
    bin_or_404(bin_id)
    return jsonify(secrets=[secret_json(row) for row in store.list_secrets(bin_id)])


@bp.delete("/api/bins/<bin_id>/secrets/<int:secret_id>")
def delete_secret(bin_id: str, secret_id: int) -> tuple[str, int]:
    bin_or_404(bin_id)
    if not store.delete_secret(bin_id, secret_id):
        abort(404, description=f"no secret {secret_id} in bin {bin_id!r}")
    note_activity(bin_id, "secret_delete", f"secret #{secret_id}")
    return "", 204
