"""The JSON API of access and sharing (DESIGN §4, §8): API tokens, a bin's share links, the
server's bin list and the activity log. Tokens are answered once, at creation, never again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, url_for

from inspector import store
from inspector.access.principal import check_scope
from inspector.bins import InvalidInput, check_text, parse_expires_in, parse_flag
from inspector.models import Activity, ApiToken, ShareLink
from inspector.shapes import bin_json, iso
from inspector.store import access as access_store
from inspector.store import activity, listing
from inspector.views.common import access_control_on, base_url, bin_or_404, json_object, note_activity

bp = Blueprint("access", __name__)
MAX_LABEL = 100


def token_json(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "label": row.label,
        "scope": row.scope,
        "bin": row.bin_id,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at) if row.last_used_at else None,
    }


def share_json(row: ShareLink) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at) if row.expires_at else None,
        "last_used_at": iso(row.last_used_at) if row.last_used_at else None,
        "allow_raw": row.allow_raw,
    }


def activity_json(row: Activity) -> dict[str, Any]:
    return {
        "id": row.id,
        "bin": row.bin_id,
        "at": iso(row.at),
        "actor": row.actor,
        "action": row.action,
        "detail": row.detail,
    }


def _only(data: dict[str, Any], *allowed: str) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")


def parse_label(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL:
        raise InvalidInput(f"label must be text of 1 to {MAX_LABEL} characters")
    if any(ord(char) < 32 for char in value):
        raise InvalidInput("label must not contain control characters")
    return check_text(value.strip(), "label")


@bp.post("/api/tokens")
def create_token() -> tuple[Response, int]:
    if not access_control_on():
        return jsonify(error="tokens need access control: set HOOKLOUPE_PASSWORD (without it everything is open)"), 409
    data = json_object()
    _only(data, "label", "scope", "bin")
    label = parse_label(data.get("label"))
    try:
        scope = check_scope(data.get("scope"))
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    bin_id = data.get("bin")
    if bin_id is not None and (not isinstance(bin_id, str) or store.get_bin(bin_id) is None):
        raise InvalidInput("bin must name an existing bin, or be left out for every bin")
    row, plain = access_store.create_token(label, scope, bin_id, datetime.now(UTC))
    return jsonify({**token_json(row), "token": plain}), 201


@bp.get("/api/tokens")
def list_tokens() -> Response:
    return jsonify(tokens=[token_json(row) for row in access_store.list_tokens()])


@bp.delete("/api/tokens/<int:token_id>")
def revoke_token(token_id: int) -> tuple[str, int]:
    if not access_store.revoke_token(token_id):
        abort(404, description=f"no token {token_id}")
    return "", 204


@bp.post("/api/bins/<bin_id>/shares")
def create_share(bin_id: str) -> tuple[Response, int]:
    bin_or_404(bin_id)
    data = json_object()
    _only(data, "expires_in_s", "allow_raw")
    now = datetime.now(UTC)
    expires_in = parse_expires_in(data.get("expires_in_s"))
    allow_raw = parse_flag(data.get("allow_raw", False), "allow_raw")
    expires_at = now + timedelta(seconds=expires_in) if expires_in else None
    row, plain = access_store.create_share(bin_id, now, expires_at, allow_raw)
    note_activity(
        bin_id, "share_create", f"share link #{row.id}" + (f", expires {iso(expires_at)}" if expires_at else "")
    )
    url = base_url() + url_for("share.page", token=plain)
    return jsonify({**share_json(row), "token": plain, "url": url}), 201


@bp.get("/api/bins/<bin_id>/shares")
def list_shares(bin_id: str) -> Response:
    bin_or_404(bin_id)
    return jsonify(shares=[share_json(row) for row in access_store.list_shares(bin_id)])


@bp.delete("/api/bins/<bin_id>/shares/<int:share_id>")
def revoke_share(bin_id: str, share_id: int) -> tuple[str, int]:
    bin_or_404(bin_id)
    if not access_store.revoke_share(bin_id, share_id):
        abort(404, description=f"no share link {share_id} in bin {bin_id!r}")
    note_activity(bin_id, "share_revoke", f"share link #{share_id}")
    return "", 204


@bp.get("/api/bins")
def list_bins() -> Response:
    """Every bin on the server, newest first (admin only when access control is on)."""
    default_max = current_app.config["MAX_REQUESTS_PER_BIN"]
    bins = listing.all_bins()
    counts = listing.counts_by_bin([bin_.id for bin_ in bins])
    return jsonify(
        bins=[
            bin_json(bin_, base_url=base_url(), request_count=counts.get(bin_.id, 0), default_max=default_max)
            for bin_ in bins
        ]
    )


@bp.get("/api/bins/<bin_id>/activity")
def bin_activity(bin_id: str) -> Response:
    bin_or_404(bin_id)
    return jsonify(activity=[activity_json(row) for row in activity.of_bin(bin_id)])


@bp.get("/api/activity")
def server_activity() -> Response:
    return jsonify(activity=[activity_json(row) for row in activity.newest()])
