"""The capture path's statements — look the bin up, insert the capture — on a raw DBAPI
connection from SQLAlchemy's pool, in one transaction; then hand the new row to the analyser.

Every captured request runs them, so they skip SQLAlchemy's statement building and result
processing (which cost more than the capture itself). The column list comes from the
`captures` table in models.py; the rest of the app talks to the database through store/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import current_app

from inspector.bins import ResponseSettings
from inspector.capture import group_commit
from inspector.capture.request import CapturedRequest
from inspector.db import db
from inspector.models import Capture
from inspector.signing.analysis import clip

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from inspector.signing.providers import Detection

# Every column but these is written by the capture insert; the analysis fills these later.
_LEFT_TO_ANALYSIS = ("id", "verdict", "signature")
INSERTED_COLUMNS = tuple(column.name for column in Capture.__table__.columns if column.name not in _LEFT_TO_ANALYSIS)
_TARGET_COLUMNS = (
    "response_status, response_headers, response_body, response_delay_ms, forward_url, forward_enabled, handshakes"
)


def _statements(mark: str) -> dict[str, str]:
    columns, marks = ", ".join(INSERTED_COLUMNS), ", ".join([mark] * len(INSERTED_COLUMNS))
    return {
        "target": f"SELECT {_TARGET_COLUMNS} FROM bins WHERE id = {mark}",
        "insert": f"INSERT INTO captures ({columns}) VALUES ({marks}) RETURNING id",
        "job": "INSERT INTO forward_jobs (capture_id, url, state, attempts, next_attempt_at) "
        f"VALUES ({mark}, {mark}, 'pending', 0, {mark})",
    }


_SQL = {"sqlite": _statements("?"), "postgresql": _statements("%s")}


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


def _target(bin_id: str, row: tuple[Any, ...]) -> CaptureTarget:
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


@dataclass(frozen=True)
class Committed:
    """A committed capture as the capture path hands it to the analyser (no need to read it back)."""

    capture_id: int
    bin_id: str
    captured: CapturedRequest


def store_capture(
    bin_id: str,
    captured: CapturedRequest,
    *,
    forward: bool = True,
    detection: Detection | None = None,
    handshake: str | None = None,
) -> StoredCapture | None:
    """In one transaction: look the bin up, insert the capture and, when the bin forwards
    (and `forward`), its forwarding job; committed before this returns, and handed to the
    process's analyser after. None when there is no such bin (nothing is stored)."""
    engine = db.engine
    dialect = engine.dialect.name
    sqlite = dialect == "sqlite"
    received_at = _timestamp(captured.received_at, sqlite)
    values = {
        "bin_id": bin_id,
        "received_at": received_at,
        "method": captured.method,
        "path": captured.path,
        "query_string": captured.query_string,
        "headers": json.dumps([list(pair) for pair in captured.headers]),
        "remote_addr": captured.remote_addr,
        "content_type": captured.content_type,
        "body": captured.body,
        "body_size": captured.body_size,
        "body_truncated": int(captured.body_truncated) if sqlite else captured.body_truncated,
        # Known before storing only when the capture was a possible handshake.
        "provider_id": detection.provider_id if detection else None,
        "event": clip(detection.event) if detection else None,
        "delivery_id": clip(detection.delivery_id) if detection else None,
        "handshake": handshake,
    }
    params = tuple(values[name] for name in INSERTED_COLUMNS)
    sql = _SQL[dialect]

    def work(cursor: Any) -> StoredCapture | None:
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
        stored: StoredCapture | None = _sqlite_group_writer(engine).run(work) if sqlite else _run_alone(engine, work)
    except Exception as error:
        if _is_foreign_key_error(error):  # the bin was deleted in between (PostgreSQL)
            return None
        raise
    if stored is not None:
        current_app.extensions["hookloupe.analyser"].notify(Committed(stored.capture_id, bin_id, captured))
    return stored


def run_write(work: Callable[[Any], Any]) -> Any:
    """`work(cursor)` in a committed write transaction of its own: on SQLite through the
    capture path's group commit (so background writes queue with captures instead of
    fighting them for SQLite's lock), on PostgreSQL alone. Returns what `work` returned."""
    engine = db.engine
    return _sqlite_group_writer(engine).run(work) if engine.dialect.name == "sqlite" else _run_alone(engine, work)


def _run_alone(engine: Engine, work: group_commit.Work) -> Any:
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


def _sqlite_group_writer(engine: Engine) -> group_commit.GroupWriter:
    """The app's group-commit writer for its SQLite database (one per app and process)."""
    writer: group_commit.GroupWriter | None = current_app.extensions.get("hookloupe.group_writer")
    if writer is None:
        writer = group_commit.GroupWriter(engine.raw_connection, f"{engine.url.database}-capture.lock")
        writer = current_app.extensions.setdefault("hookloupe.group_writer", writer)
    return writer


def _timestamp(moment: datetime, sqlite: bool) -> datetime | str:
    """SQLite keeps naive UTC text in SQLAlchemy's format (models.UTCDateTime reads it back)."""
    if not sqlite:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _is_foreign_key_error(error: Exception) -> bool:
    text = str(error).lower()
    return "foreign key" in text or "foreign_key" in text or "violates foreign key" in text
