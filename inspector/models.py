"""The stored tables: bins and the captures they hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Connection, DateTime, ForeignKey, Index, LargeBinary, String, Text, event, false, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from inspector.db import Base, db

# mypy cannot take an attribute as a base class (python/mypy#8603); `db.Model` is built at
# runtime from `Base`'s declarative bases, so mypy checks the models against `Base`.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


UTC_DATETIME = UTCDateTime()


class Bin(Model):
    __tablename__ = "bins"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    # None means the instance default (MAX_REQUESTS_PER_BIN).
    max_requests: Mapped[int | None]
    response_status: Mapped[int] = mapped_column(default=200)
    # [[name, value], ...]; None means the default JSON answer.
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSON)
    # None means the default `{"ok": true, "request_id": N}` body.
    response_body: Mapped[str | None] = mapped_column(Text)
    response_delay_ms: Mapped[int] = mapped_column(default=0)
    forward_url: Mapped[str | None] = mapped_column(Text)
    forward_enabled: Mapped[bool] = mapped_column(default=False)
    # Answer providers' endpoint-verification handshakes (Slack, Zoom, Meta, Graph, Twitch).
    handshakes: Mapped[bool] = mapped_column(default=True)
    # The public base URL senders call (for URL-signing providers); None = BASE_URL.
    public_base_url: Mapped[str | None] = mapped_column(Text)
    # Bumped whenever what a verdict depends on changes (secrets, public base URL): an analysis
    # made under an older generation is stale and is not written (signing/analysis.py).
    analysis_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # An ephemeral bin's end: from then on capture and the API answer 410 and the janitor
    # deletes it. None never expires (BIN_TTL_DAYS still applies).
    expires_at: Mapped[datetime | None] = mapped_column(UTC_DATETIME, index=True)
    # Redaction rules (redaction.py): {"headers", "json_paths", "form_fields", "patterns",
    # "at_capture", "for_owner"}; None means the defaults (the usual credential headers).
    redact: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The rules redaction at capture applies, as canonical JSON text, while `at_capture` is on;
    # None otherwise. The capture path's insert compares it, so a capture is never stored
    # under rules that changed while it was being redacted (capture/insert.py).
    capture_redaction: Mapped[str | None] = mapped_column(Text)


class Capture(Model):
    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bin_id: Mapped[str] = mapped_column(String(64), ForeignKey("bins.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    method: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    query_string: Mapped[str] = mapped_column(Text)
    # [[name, value], ...] in arrival order.
    headers: Mapped[list[list[str]]] = mapped_column(JSON)
    remote_addr: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_size: Mapped[int]
    body_truncated: Mapped[bool] = mapped_column(default=False)
    # The body ended before its Content-Length or chunked framing said (the sender stopped).
    body_incomplete: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The analysis (signing/analysis.py), written once right after the row is committed.
    # provider_id, event and delivery_id never change once detected; `verdict` is None until the
    # row is analysed, and again while it waits to be re-verified after its bin's secrets changed.
    provider_id: Mapped[str | None] = mapped_column(String(40))
    event: Mapped[str | None] = mapped_column(Text)
    delivery_id: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(16))
    # The rest of the verdict: {"scheme", "secret", "detail", "inferred", "warnings", "debug"}
    # (secret = the matching secret's label, never its value); None while `verdict` is None.
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when Hookloupe answered a provider handshake instead of the bin's response.
    handshake: Mapped[str | None] = mapped_column(Text)
    # What redaction "at capture" replaced before the row was written, in words (e.g.
    # ["header Authorization", "body json $.card"]); None when nothing was.
    redacted: Mapped[list[str] | None] = mapped_column(JSON)
    # A pinned capture is kept by pruning and clear-all; `note` is the owner's short remark.
    pinned: Mapped[bool] = mapped_column(default=False, server_default=false())
    note: Mapped[str | None] = mapped_column(Text)

    # AUTOINCREMENT on SQLite: ids are never reused after deletes, because event streams and
    # `hookloupe listen` resume after the last id they saw.
    __table_args__ = (
        Index("ix_captures_bin_id_id", "bin_id", "id"),
        # Counts and filters over analysed columns are index scans, newest first.
        Index("ix_captures_bin_provider", "bin_id", "provider_id", "id"),
        Index("ix_captures_bin_verdict", "bin_id", "verdict", "id"),
        # The facet counts (store.bin_stats) read only this index, never the rows.
        Index("ix_captures_bin_stats", "bin_id", "provider_id", "verdict"),
        # The analysers' work list: rows not analysed (or awaiting re-verification).
        Index(
            "ix_captures_unanalysed",
            "id",
            sqlite_where=text("verdict IS NULL"),
            postgresql_where=text("verdict IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )


def _create_search_index(_table: Any, connection: Connection, **_kw: Any) -> None:
    """A fresh database gets the text search index with its captures table (search_index.py;
    migration 0008 creates it on an upgraded one)."""
    from inspector import search_index

    search_index.create(connection)


event.listen(Capture.__table__, "after_create", _create_search_index)


class Secret(Model):
    """A signing secret of a bin, encrypted; optionally only for one provider."""

    __tablename__ = "secrets"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bin_id: Mapped[str] = mapped_column(String(64), ForeignKey("bins.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str | None] = mapped_column(String(40))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)


class Delivery(Model):
    """One attempt to send a capture to a target (a replay, or one try of an auto-forward)."""

    __tablename__ = "deliveries"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "replay" or "forward"
    url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    elapsed_ms: Mapped[int]
    # [[name, value], ...] as the target sent them.
    response_headers: Mapped[list[list[str]]] = mapped_column(JSON)
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    # What was changed before sending (edits, re-signing), in words; None when sent as captured.
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)


class ForwardJob(Model):
    """A capture waiting to be auto-forwarded: the durable queue the forwarder drains.

    A worker claims a job by setting `lease_token`/`lease_until` with a conditional UPDATE, so
    two workers (or hosts) never send the same attempt; an expired lease is claimable again.
    """

    __tablename__ = "forward_jobs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    capture: Mapped[Capture] = relationship()

    __table_args__ = (Index("ix_forward_jobs_due", "state", "next_attempt_at"),)


class ApiToken(Model):
    """An API token: only its SHA-256 digest is stored; scoped read < write < admin,
    optionally to one bin (deleted with it)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(8))
    bin_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("bins.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    last_used_at: Mapped[datetime | None] = mapped_column(UTC_DATETIME)


class ShareLink(Model):
    """A read-only link to one bin's page (`/s/<token>`): only the token's digest is stored."""

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bin_id: Mapped[str] = mapped_column(String(64), ForeignKey("bins.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    expires_at: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    last_used_at: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    # Whether the shared page offers the raw body download.
    allow_raw: Mapped[bool] = mapped_column(default=False)


class Activity(Model):
    """Who did what to a bin, and when. No foreign key: a bin's deletion stays on record."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_bin_id_id", "bin_id", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bin_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    # "admin", "admin (alice via X-Forwarded-User)", "token “ci” (#3)", "anyone (no password)".
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class SignIn(Model):
    """A signed-in browser session (the cookie holds the plain id): signing out deletes the
    row, so a copied cookie stops working too."""

    __tablename__ = "sign_ins"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    expires_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
