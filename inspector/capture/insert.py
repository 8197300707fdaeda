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
    "response_status, response_headers, response_body, response_delay_ms, forward_url, forward_enabled, handshakes, "
    "expires_at"
)


def _statements(mark: str) -> dict[str, str]:
    columns, marks = ", ".join(INSERTED_COLUMNS), ", ".join([mark] * len(INSERTED_COLUMNS))
    return {
        "target": f"SELECT {_TARGET_COLUMNS} FROM bins WHERE id = {mark}",
        "insert": f"INSERT INTO captures ({columns}) VALUES ({marks}) RETURNING id",
        "job": "INSERT INTO forward_jobs (capture_id, url, state, attempts, next_attempt_at) "
        f"VALUES ({mark}, {mark}, 'pending', 0, {mark})",
    }


_SQL = {"sqlite": _statements("?"), "postgresql": _statements("%s")}  # postgresql: capture_target only


def _postgres_capture_statement() -> str:
    """PostgreSQL: the bin lookup, the capture insert and its forwarding job in one statement
    (one round trip, atomic in autocommit). It returns the bin's answer settings and the new
    id — NULL when the bin has expired — and no row when there is no such bin."""
    columns = ", ".join(INSERTED_COLUMNS)
    values = ", ".join(f"CAST(%({name})s AS json)" if name == "headers" else f"%({name})s" for name in INSERTED_COLUMNS)
    return (
        f"WITH target AS (SELECT {_TARGET_COLUMNS} FROM bins WHERE id = %(bin_id)s), "
        f"stored AS (INSERT INTO captures ({columns}) SELECT {values} FROM target "
        "WHERE target.expires_at IS NULL OR target.expires_at > %(received_at)s RETURNING id), "
        "job AS (INSERT INTO forward_jobs (capture_id, url, state, attempts, next_attempt_at) "
        "SELECT stored.id, target.forward_url, 'pending', 0, %(received_at)s FROM stored, target "
        "WHERE %(forward)s AND target.forward_enabled AND target.forward_url IS NOT NULL) "
        f"SELECT {_TARGET_COLUMNS}, (SELECT id FROM stored) FROM target"
    )


_POSTGRES_CAPTURE = _postgres_capture_statement()

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
    expires_at: datetime | None  # an ephemeral bin's end

    def has_expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


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
    status, headers, body, delay, forward_url, forward_enabled, handshakes, expires_at = row
    if isinstance(headers, str):  # SQLite returns JSON as text
        headers = json.loads(headers)
    response = ResponseSettings(status, tuple(tuple(pair) for pair in headers or ()), body, delay)
    return CaptureTarget(
        bin_id, response, forward_url if forward_enabled else None, bool(handshakes), _aware(expires_at)
    )


def _aware(moment: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back naive UTC text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class StoredCapture:
    """A committed capture's id and the answer its bin gives."""

    capture_id: int
    response: ResponseSettings


@dataclass(frozen=True)
class BinExpired:
    """The bin is ephemeral and its end has come: nothing was stored (answer 410)."""

    expires_at: datetime


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
) -> StoredCapture | BinExpired | None:
    """In one transaction: look the bin up, insert the capture and, when the bin forwards
    (and `forward`), its forwarding job; committed before this returns, and handed to the
    process's analyser after. None when there is no such bin, BinExpired when it has expired
    (nothing is stored either way). Raises
    DatabaseUnavailableError when the database cannot store it now (nothing is stored)."""
    engine = db.engine
    sqlite = engine.dialect.name == "sqlite"
    values: dict[str, Any] = {
        "bin_id": bin_id,
        "received_at": _timestamp(captured.received_at, sqlite),
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
    if sqlite:
        stored = _store_on_sqlite(engine, values, forward=forward, received_at=captured.received_at)
    else:
        stored = _store_on_postgres(engine, {**values, "forward": forward})
    if isinstance(stored, StoredCapture):
        current_app.extensions["hookloupe.capture_marks"].poke((bin_id,))
        current_app.extensions["hookloupe.analyser"].notify(Committed(stored.capture_id, bin_id, captured))
    return stored


def _store_on_sqlite(
    engine: Engine, values: dict[str, Any], *, forward: bool, received_at: datetime
) -> StoredCapture | BinExpired | None:
    """The lookup and inserts as statements of a group-commit batch (see store_capture)."""
    params = tuple(values[name] for name in INSERTED_COLUMNS)
    sql = _SQL["sqlite"]

    def work(cursor: Any) -> StoredCapture | BinExpired | None:
        cursor.execute(sql["target"], (values["bin_id"],))
        row = cursor.fetchone()
        if row is None:
            return None
        target = _target(values["bin_id"], row)
        if target.has_expired(received_at):
            return BinExpired(target.expires_at or received_at)
        cursor.execute(sql["insert"], params)
        capture_id = cursor.fetchone()[0]
        if forward and target.forward_url:
            cursor.execute(sql["job"], (capture_id, target.forward_url, values["received_at"]))
        return StoredCapture(capture_id, target.response)

    with _unavailable_raised():
        stored: StoredCapture | BinExpired | None = _sqlite_group_writer(engine).run(work)
    return stored


def _store_on_postgres(engine: Engine, params: dict[str, Any]) -> StoredCapture | BinExpired | None:
    """`_POSTGRES_CAPTURE` in autocommit: committed when it returns (see store_capture)."""
    with _unavailable_raised():
        raw = engine.raw_connection()
        connection: Any = raw.driver_connection
        try:
            connection.autocommit = True
            try:
                row = connection.execute(_POSTGRES_CAPTURE, params).fetchone()
            finally:
                connection.autocommit = False
        except Exception as error:
            _release_failed(raw, error)
            if _is_foreign_key_error(error):  # the bin was deleted in between
                return None
            raise
        raw.close()
    if row is None:
        return None
    target = _target(params["bin_id"], row[:-1])
    if row[-1] is None:
        return BinExpired(target.expires_at or params["received_at"])
    return StoredCapture(row[-1], target.response)


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
