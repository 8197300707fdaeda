"""The capture path's statements — look the bin up, insert the capture — on a raw DBAPI
connection from SQLAlchemy's pool, in one transaction; then hand the new row to the analyser.

Every captured request runs them, so they skip SQLAlchemy's statement building and result
processing (which cost more than the capture itself). The column list comes from the
`captures` table in models.py; the rest of the app talks to the database through store/.

Errors: `DatabaseUnavailableError` when the database cannot take the write now (read-only,
disk full, locked too long, restarting or unreachable): nothing was stored, and the same
capture may succeed a moment later (the connection that failed is thrown away, not pooled).
Anything else the database raises comes through as it is.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy.exc
from flask import current_app

from inspector import metrics
from inspector.bins import ResponseSettings
from inspector.capture import group_commit
from inspector.capture.request import CapturedRequest
from inspector.db import db, discard_connection
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

# SQLite result codes (extended codes start with these) that say the database cannot write
# now, unlike SQLITE_ERROR ("no such table", a bad statement), which is a bug.
_SQLITE_UNAVAILABLE = tuple(f"SQLITE_{code}" for code in ("READONLY", "FULL", "BUSY", "LOCKED", "IOERR", "CANTOPEN"))


class DatabaseUnavailableError(Exception):
    """The database cannot store the capture now; nothing was stored. Answer 503 with
    Retry-After: the sender may try again, and the next attempt may succeed."""


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot take writes now (see the module docstring),
    rather than that this capture or the code is at fault."""
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # every pooled connection is in use
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):  # the pool wraps errors of connecting
        error = error.orig if error.orig is not None else error
    if isinstance(error, sqlite3.OperationalError):
        return str(getattr(error, "sqlite_errorname", "")).startswith(_SQLITE_UNAVAILABLE)
    # PostgreSQL: a lost or refused connection, a shutdown, disk full; a standby's read-only.
    return isinstance(error, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction)


@contextmanager
def _unavailable_raised() -> Iterator[None]:
    """Raise the database's "cannot now" errors as DatabaseUnavailableError."""
    try:
        yield
    except Exception as error:
        if is_unavailable(error):
            metrics.record_database_error()
            raise DatabaseUnavailableError(f"database unavailable: {error}") from error
        raise


@dataclass(frozen=True)
class CaptureTarget:
    """What the capture path needs to know of a bin."""

    bin_id: str
    response: ResponseSettings
    forward_url: str | None  # None unless forwarding is enabled
    handshakes: bool


def capture_target(bin_id: str) -> CaptureTarget | None:
    """The bin's capture settings, or None when there is no such bin. Raises
    DatabaseUnavailableError when the database cannot be read now."""
    engine = db.engine
    sql = _SQL[engine.dialect.name]["target"]

    def read(cursor: Any) -> Any:
        cursor.execute(sql, (bin_id,))
        return cursor.fetchone()

    with _unavailable_raised():
        row = _run_alone(engine, read)  # its commit ends the read (PostgreSQL opened a transaction)
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
    process's analyser after. None when there is no such bin (nothing is stored). Raises
    DatabaseUnavailableError when the database cannot store it now (nothing is stored)."""
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
        "body_incomplete": int(captured.body_incomplete) if sqlite else captured.body_incomplete,
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
        with _unavailable_raised():
            stored: StoredCapture | None = (
                _sqlite_group_writer(engine).run(work) if sqlite else _run_alone(engine, work)
            )
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
    fighting them for SQLite's lock), on PostgreSQL alone. Returns what `work` returned;
    raises DatabaseUnavailableError when the database cannot take the write now."""
    engine = db.engine
    with _unavailable_raised():
        return _sqlite_group_writer(engine).run(work) if engine.dialect.name == "sqlite" else _run_alone(engine, work)


def _run_alone(engine: Engine, work: group_commit.Work) -> Any:
    """`work(cursor)` in its own transaction (PostgreSQL handles concurrent writers itself)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        result = work(cursor)
        cursor.close()
        raw.commit()
    except BaseException as error:
        _release_failed(raw, error)
        raise
    raw.close()
    return result


def _release_failed(raw: Any, error: BaseException) -> None:
    """After a failed transaction: roll back and return a sound connection to the pool; throw
    away one the database failed on (it may be read-only, or closed by a restarted server)."""
    if not is_unavailable(error):
        try:
            raw.rollback()
        except Exception as rollback_error:
            error = rollback_error
        else:
            raw.close()
            return
    discard_connection(raw, error)


def _sqlite_group_writer(engine: Engine) -> group_commit.GroupWriter:
    """The app's group-commit writer for its SQLite database (one per app and process)."""
    writer: group_commit.GroupWriter | None = current_app.extensions.get("hookloupe.group_writer")
    if writer is None:
        lock_path = f"{engine.url.database}-capture.lock"
        try:
            writer = group_commit.GroupWriter(
                engine.raw_connection, lock_path, discard=discard_connection, fails_batch=is_unavailable
            )
        except OSError as error:  # the lock file cannot be created (a read-only directory)
            metrics.record_database_error()
            raise DatabaseUnavailableError(f"cannot open {lock_path}: {error}") from error
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
