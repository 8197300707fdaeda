"""Bins: create, look up, change settings, delete."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from inspector.bins import ResponseSettings
from inspector.db import db
from inspector.models import Bin, Capture
from inspector.redaction import capture_rules_text, rules_from_json
from inspector.store.secrets import clear_verdicts, wake_analyser
from inspector.store.sql import execute_dml


class BinExistsError(Exception):
    """A bin with that id already exists."""


def create_bin(bin_id: str, now: datetime, *, expires_at: datetime | None = None) -> Bin:
    """Insert a new bin (ephemeral when `expires_at` is given); raise BinExistsError when the
    id is taken."""
    bin_ = Bin(id=bin_id, created_at=now, expires_at=expires_at)
    db.session.add(bin_)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise BinExistsError(bin_id) from None
    return bin_


def get_bin(bin_id: str) -> Bin | None:
    """The bin, or None when there is no such bin."""
    return db.session.get(Bin, bin_id)


class Keep(Enum):
    """The value of a `save_bin_settings` argument that leaves that setting as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


def save_bin_settings(
    bin_: Bin,
    *,
    response: ResponseSettings | Keep = KEEP,
    forward: tuple[str, bool] | Keep | None = KEEP,
    max_requests: int | Keep = KEEP,
    handshakes: bool | Keep = KEEP,
    public_base_url: str | Keep | None = KEEP,
    redact: dict[str, Any] | Keep | None = KEEP,
) -> Bin:
    """Apply the settings given (KEEP, the default, leaves one unchanged; `forward=None` and
    `public_base_url=None` clear those). A new public base URL re-verifies the bin's captures
    (URL-signing providers sign it). `redact` (redaction.parse_rules' value; None: the
    defaults) sets the redaction rules and, together, the rules captures are redacted with
    from now on (`capture_redaction`, None unless `at_capture`); stored captures and their
    verdicts stay as they are."""
    if not isinstance(response, Keep):
        bin_.response_status = response.status
        bin_.response_headers = [list(pair) for pair in response.headers] or None
        bin_.response_body = response.body
        bin_.response_delay_ms = response.delay_ms
    if forward is None:
        bin_.forward_url, bin_.forward_enabled = None, False
    elif not isinstance(forward, Keep):
        bin_.forward_url, bin_.forward_enabled = forward
    if not isinstance(max_requests, Keep):
        bin_.max_requests = max_requests
    if not isinstance(handshakes, Keep):
        bin_.handshakes = handshakes
    if not isinstance(redact, Keep):
        bin_.redact = redact
        bin_.capture_redaction = capture_rules_text(rules_from_json(redact))
    reverify = not isinstance(public_base_url, Keep) and public_base_url != bin_.public_base_url
    if not isinstance(public_base_url, Keep):
        bin_.public_base_url = public_base_url
    if reverify:
        clear_verdicts(bin_.id)
    db.session.commit()
    if reverify:
        wake_analyser(bin_.id)
    return bin_


def expired_bin_ids(now: datetime, limit: int = 100) -> list[str]:
    """Ids of ephemeral bins whose end has come (at most `limit`, soonest-ended first)."""
    query = select(Bin.id).where(Bin.expires_at <= now).order_by(Bin.expires_at).limit(limit)
    return list(db.session.scalars(query))


def delete_bin(bin_id: str) -> bool:
    """Delete the bin and everything it holds; False when there was no such bin."""
    db.session.execute(delete(Capture).where(Capture.bin_id == bin_id))
    deleted = execute_dml(delete(Bin).where(Bin.id == bin_id))
    db.session.commit()
    return deleted > 0
