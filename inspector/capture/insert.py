"""The capture path's statements — look the bin up, insert the capture — on a raw DBAPI
connection from SQLAlchemy's pool, in one transaction.

Every captured request runs them, so they skip SQLAlchemy's statement building and result
processing (which cost more than the capture itself). The SQL is written once per dialect
and matches the tables in models.py; everything else talks to the database through store.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

from inspector.bins import ResponseSettings
from inspector.capture import group_commit
from inspector.capture.request import CapturedRequest
from inspector.db import db

_CAPTURE_COLUMNS = (
    "bin_id, received_at, method, path, query_string, headers, remote_addr, content_type, body, "
    "body_size, body_truncated, provider_id, event, delivery_id, verdict, handshake"
)
_TARGET_COLUMNS = (
    "response_status, response_headers, response_body, response_delay_ms, forward_url, forward_enabled, handshakes"
)
_SQL = {
    "sqlite": {
        "target": f"SELECT {_TARGET_COLUMNS} FROM bins WHERE id = ?",
        "insert": f"INSERT INTO captures ({_CAPTURE_COLUMNS}) VALUES ({', '.join('?' * 16)}) RETURNING id",
        "job": "INSERT INTO forward_jobs (capture_id, url, state, attempts, next_attempt_at) VALUES (?, ?, 'pending', 0, ?)",
    },
    "postgresql": {
        "target": f"SELECT {_TARGET_COLUMNS} FROM bins WHERE id = %s",
        "insert": f"INSERT INTO captures ({_CAPTURE_COLUMNS}) VALUES ({', '.join(['%s'] * 16)}) RETURNING id",
        "job": "INSERT INTO forward_jobs (capture_id, url, state, attempts, next_attempt_at) VALUES (%s, %s, 'pending', 0, %s)",
    },
}


@dataclass(frozen=True)
class CaptureTarget:
    """What the capture path needs to know of a bin."""

    bin_id: str
    response: ResponseSettings
    forward_url: str | None  # None unless forwarding is enabled
    handshakes: bool


def capture_target(bin_id: str) -> CaptureTarget | None:
    """The bin's capture settings, or None when there is no such bin."""
    dialect = db.engine.dialect.name
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(_SQL[dialect]["target"], (bin_id,))
        row = cursor.fetchone()
        cursor.close()
        raw.rollback()  # end the read (PostgreSQL opened a transaction for it)
    finally:
        raw.close()
    return None if row is None else _target(bin_id, row)


def _target(bin_id: str, row: tuple) -> CaptureTarget:
    status, headers, body, delay, forward_url, forward_enabled, handshakes = row
    if isinstance(headers, str):  # SQLite returns JSON as text
        headers = json.loads(headers)
    response = ResponseSettings(status, tuple(tuple(pair) for pair in headers or ()), body, delay)
    return CaptureTarget(bin_id, response, forward_url if forward_enabled else None, bool(handshakes))


@dataclass(frozen=True)
class StoredCapture:
    """A committed capture's id and the answer its bin gives."""

    capture_id: int
    response: ResponseSettings


def store_capture(
    bin_id: str,
    captured: CapturedRequest,
    *,
    forward: bool = True,
    detection=None,
    handshake: str | None = None,
) -> StoredCapture | None:
    """In one transaction: look the bin up, insert the capture and, when the bin forwards
    (and `forward`), its forwarding job; committed before this returns. None when there is no
    such bin (nothing is stored)."""
    engine = db.engine
    dialect = engine.dialect.name
    sqlite = dialect == "sqlite"
    received_at = _timestamp(captured.received_at, sqlite)
    params = (
        bin_id,
        received_at,
        captured.method,
        captured.path,
        captured.query_string,
        json.dumps([list(pair) for pair in captured.headers]),
        captured.remote_addr,
        captured.content_type,
        captured.body,
        captured.body_size,
        int(captured.body_truncated) if sqlite else captured.body_truncated,
        detection.provider_id if detection else None,
        _clip(detection.event) if detection else None,
        _clip(detection.delivery_id) if detection else None,
        None,  # not analysed yet: detection and verdict run when the capture is first read
        handshake,
    )
    sql = _SQL[dialect]

    def work(cursor) -> StoredCapture | None:
        cursor.execute(sql["target"], (bin_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        target = _target(bin_id, row)
        cursor.execute(sql["insert"], params)
        capture_id = cursor.fetchone()[0]
        if forward and target.forward_url:
            cursor.execute(sql["job"], (capture_id, target.forward_url, received_at))
        return StoredCapture(capture_id, target.response)

    try:
        return _sqlite_group_writer(engine).run(work) if sqlite else _run_alone(engine, work)
    except Exception as error:
        if _is_foreign_key_error(error):  # the bin was deleted in between (PostgreSQL)
            return None
        raise


def _run_alone(engine, work):
    """`work(cursor)` in its own transaction (PostgreSQL handles concurrent writers itself)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        result = work(cursor)
        cursor.close()
        raw.commit()
        return result
    except Exception:
        raw.rollback()
        raise
    finally:
        raw.close()


def _sqlite_group_writer(engine) -> group_commit.GroupWriter:
    """The app's group-commit writer for its SQLite database (one per app and process)."""
    writer = current_app.extensions.get("hookloupe.group_writer")
    if writer is None:
        writer = group_commit.GroupWriter(engine.raw_connection, f"{engine.url.database}-capture.lock")
        writer = current_app.extensions.setdefault("hookloupe.group_writer", writer)
    return writer


def _timestamp(moment: datetime, sqlite: bool):
    """SQLite keeps naive UTC text in SQLAlchemy's format (models.UTCDateTime reads it back)."""
    if not sqlite:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _clip(text, size: int = 200):
    """Event names and delivery ids come from hostile bodies: keep them short."""
    return None if text is None else str(text)[:size]


def _is_foreign_key_error(error: Exception) -> bool:
    text = str(error).lower()
    return "foreign key" in text or "foreign_key" in text or "violates foreign key" in text
