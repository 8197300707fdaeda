"""API tokens, share links and signed-in sessions: created with their secret handed out once, looked up by the
digest of a presented token, revoked at once. The plain tokens are never stored."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from inspector.access import tokens
from inspector.db import db
from inspector.models import ApiToken, ShareLink, SignIn
from inspector.store.sql import execute_dml

# `last_used_at` is written at most this often per token or link: a script calling the API in a
# loop costs no write per call.
LAST_USED_EVERY = timedelta(seconds=60)


def create_token(label: str, scope: str, bin_id: str | None, now: datetime) -> tuple[ApiToken, str]:
    """A new API token: the row, and the token itself (shown once, never stored)."""
    plain = tokens.new_api_token()
    row = ApiToken(label=label, scope=scope, bin_id=bin_id, token_hash=tokens.digest(plain), created_at=now)
    db.session.add(row)
    db.session.commit()
    return row, plain


def list_tokens() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(token_id: int) -> bool:
    deleted = execute_dml(delete(ApiToken).where(ApiToken.id == token_id))
    db.session.commit()
    return deleted > 0


def token_is_live(token_id: int) -> bool:
    """Whether the token still exists (an open event stream held by it asks this)."""
    found = db.session.execute(select(ApiToken.id).where(ApiToken.id == token_id)).first()
    db.session.rollback()  # a read-only look: end the transaction so the next look sees new commits
    return found is not None


def token_by_secret(plain: str, now: datetime) -> ApiToken | None:
    """The token whose secret is `plain` (its last use noted), or None."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.digest(plain)))
    if row is not None:
        _note_use(ApiToken, row, now)
    return row


def create_share(bin_id: str, now: datetime, expires_at: datetime | None, allow_raw: bool) -> tuple[ShareLink, str]:
    """A new share link of the bin: the row, and its token (shown once, never stored)."""
    plain = tokens.new_share_token()
    row = ShareLink(
        bin_id=bin_id, token_hash=tokens.digest(plain), created_at=now, expires_at=expires_at, allow_raw=allow_raw
    )
    db.session.add(row)
    db.session.commit()
    return row, plain


def list_shares(bin_id: str) -> list[ShareLink]:
    return list(db.session.scalars(select(ShareLink).where(ShareLink.bin_id == bin_id).order_by(ShareLink.id)))


def revoke_share(bin_id: str, share_id: int) -> bool:
    deleted = execute_dml(delete(ShareLink).where(ShareLink.bin_id == bin_id, ShareLink.id == share_id))
    db.session.commit()
    return deleted > 0


def share_by_secret(plain: str, now: datetime, *, note_use: bool = True) -> ShareLink | None:
    """The share link whose token is `plain`, or None; an expired link is returned too (the
    caller tells "expired" from "no such link")."""
    row = db.session.scalar(select(ShareLink).where(ShareLink.token_hash == tokens.digest(plain)))
    if row is not None and note_use:
        _note_use(ShareLink, row, now)
    return row


def share_is_live(share_id: int, now: datetime) -> bool:
    """Whether the link still exists and has not expired (an open shared page asks this)."""
    expires = db.session.execute(select(ShareLink.expires_at).where(ShareLink.id == share_id)).first()
    db.session.rollback()  # a read-only look: end the transaction so the next look sees new commits
    return expires is not None and (expires[0] is None or expires[0] > now)


def share_counts(bin_ids: list[str]) -> dict[str, int]:
    """How many share links each of these bins has."""
    from sqlalchemy import func

    rows = db.session.execute(
        select(ShareLink.bin_id, func.count()).where(ShareLink.bin_id.in_(bin_ids)).group_by(ShareLink.bin_id)
    )
    return {bin_id: count for bin_id, count in rows}


def _note_use(model: type[ApiToken] | type[ShareLink], row: ApiToken | ShareLink, now: datetime) -> None:
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        execute_dml(update(model).where(model.id == row.id).values(last_used_at=now))
        db.session.commit()


def start_sign_in(now: datetime, lasts: timedelta) -> str:
    """A new signed-in session: its id (for the cookie; only its digest is stored). Expired
    sessions are deleted on the way."""
    execute_dml(delete(SignIn).where(SignIn.expires_at <= now))
    plain = tokens.new_share_token()
    db.session.add(SignIn(id_hash=tokens.digest(plain), created_at=now, expires_at=now + lasts))
    db.session.commit()
    return plain


def sign_in_is_live(plain: str, now: datetime) -> bool:
    row = db.session.get(SignIn, tokens.digest(plain))
    return row is not None and row.expires_at > now


def end_sign_in(plain: str) -> None:
    execute_dml(delete(SignIn).where(SignIn.id_hash == tokens.digest(plain)))
    db.session.commit()
