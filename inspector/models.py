"""The stored tables: bins and the captures they hold."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .db import db


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


UTC_DATETIME = UTCDateTime()


class Bin(db.Model):
    __tablename__ = "bins"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    # None means the instance default (MAX_REQUESTS_PER_BIN).
    max_requests: Mapped[int | None]
    response_status: Mapped[int] = mapped_column(default=200)
    # [[name, value], ...]; None means the default JSON answer.
    response_headers: Mapped[list | None] = mapped_column(JSON)
    # None means the default `{"ok": true, "request_id": N}` body.
    response_body: Mapped[str | None] = mapped_column(Text)
    response_delay_ms: Mapped[int] = mapped_column(default=0)
    forward_url: Mapped[str | None] = mapped_column(Text)
    forward_enabled: Mapped[bool] = mapped_column(default=False)


class Capture(db.Model):
    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bin_id: Mapped[str] = mapped_column(String(64), ForeignKey("bins.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    method: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    query_string: Mapped[str] = mapped_column(Text)
    # [[name, value], ...] in arrival order.
    headers: Mapped[list] = mapped_column(JSON)
    remote_addr: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_size: Mapped[int]
    body_truncated: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (Index("ix_captures_bin_id_id", "bin_id", "id"),)
