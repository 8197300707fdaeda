"""The capture path's statements — look the bin up, insert the capture — on a raw DBAPI
connection from SQLAlchemy's pool, in one transaction; then hand the new row to the analyser.

Every captured request runs them, so they skip SQLAlchemy's statement building and result
processing (which cost more than the capture itself). The column list comes from the
`captures` table in models.py; the rest of the app talks to the database through store/.

Redaction at capture ("never store", redaction.py): the insert holds only while the bin's
`capture_redaction` is the rules text the capture was redacted with (NULL: none), else it is
redacted under the current rules and inserted again. A process's memory of each bin's last
rules is only a hint: a bin without rules costs no extra work or query.

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
from functools import partial
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy.exc
from flask import current_app

from inspector import metrics, redaction
from inspector.bins import ResponseSettings
from inspector.capture import group_commit
from inspector.capture.request import CapturedRequest
from inspector.db import db, discard_connection
from inspector.models import Capture
from inspector.signing.analysis import clip

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from inspector.signing.providers import Detection

# Not written by the capture insert: the analysis fills verdict and signature; pinned and note keep their defaults.
_NOT_INSERTED = ("id", "verdict", "signature", "pinned", "note")
INSERTED_COLUMNS = tuple(column.name for column in Capture.__table__.columns if column.name not in _NOT_INSERTED)
_TARGET_COLUMNS = (
    "response_status, response_headers, response_body, response_delay_ms, forward_url, forward_enabled, handshakes, "
    "expires_at, capture_redaction"
)
_Values = dict[str, Any]  # a capture row's values by column name
_JSON_COLUMNS = ("headers", "redacted")
_AS_CAPTURED = ("method", "path", "query_string", "remote_addr", "content_type", "body", "body_size")
# Inserts tried per capture while its bin's redaction rules keep changing under it.
_REDACTION_ATTEMPTS = 3
# Bins whose last seen redaction rules a process remembers (all are forgotten beyond that).
_SEEN_BINS = 4096
_KEPT_CHANGING = "the bin's redaction rules changed at every attempt to store the capture"


def _statements(mark: str) -> dict[str, str]:
    columns, marks = ", ".join(INSERTED_COLUMNS), ", ".join([mark] * len(INSERTED_COLUMNS))
    current = f"(SELECT capture_redaction FROM bins WHERE id = {mark}) IS {mark}"  # see the module docstring
    return {
        "target": f"SELECT {_TARGET_COLUMNS} FROM bins WHERE id = {mark}",
        "insert": f"INSERT INTO captures ({columns}) SELECT {marks} WHERE {current} RETURNING id",
        "rules": f"SELECT capture_redaction FROM bins WHERE id = {mark}",
        "job": "INSERT INTO forward_jobs (capture_id, url, state, attempts, next_attempt_at) "
        f"VALUES ({mark}, {mark}, 'pending', 0, {mark})",
    }


_SQL = {"sqlite": _statements("?"), "postgresql": _statements("%s")}  # postgresql: capture_target only


def _postgres_capture_statement() -> str:
    """PostgreSQL: the bin lookup, the capture insert and its forwarding job in one statement
    (one round trip, atomic in autocommit). It returns the bin's settings and the new id (NULL
    when the bin has expired or its redaction rules are not `%(redaction)s`); no row: no bin."""
    columns = ", ".join(INSERTED_COLUMNS)
    values = ", ".join(f"CAST(%({c})s AS json)" if c in _JSON_COLUMNS else f"%({c})s" for c in INSERTED_COLUMNS)
    return (
        f"WITH target AS (SELECT {_TARGET_COLUMNS} FROM bins WHERE id = %(bin_id)s), "
        f"stored AS (INSERT INTO captures ({columns}) SELECT {values} FROM target "
        "WHERE (target.expires_at IS NULL OR target.expires_at > %(received_at)s) "
        "AND target.capture_redaction IS NOT DISTINCT FROM %(redaction)s RETURNING id), "
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
    capture_redaction: str | None = None  # the rules redaction at capture applies (redaction.py)

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
    status, headers, body, delay, forward_url, forward_enabled, handshakes, expires_at, capture_redaction = row
    if isinstance(headers, str):  # SQLite returns JSON as text
        headers = json.loads(headers)
    response = ResponseSettings(status, tuple(tuple(pair) for pair in headers or ()), body, delay)
    forward = forward_url if forward_enabled else None
    return CaptureTarget(bin_id, response, forward, bool(handshakes), _aware(expires_at), capture_redaction)


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
    """A committed capture as the capture path hands it to the analyser (no need to read it back):
    `captured` as stored (redacted at capture when `redacted` says what was replaced)."""

    capture_id: int
    bin_id: str
    captured: CapturedRequest
    redacted: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Prepared:
    """A capture's row values, redacted under `rules` (a bin's `capture_redaction`; None: as it arrived)."""

    rules: str | None
    captured: CapturedRequest
    redacted: tuple[str, ...]
    values: _Values


def store_capture(
    bin_id: str,
    captured: CapturedRequest,
    *,
    forward: bool = True,
    detection: Detection | None = None,
    handshake: str | None = None,
) -> StoredCapture | BinExpired | None:
    """In one transaction: look the bin up, insert the capture (redacted under the bin's rules
    while it redacts at capture) and, when the bin forwards (and `forward`), its forwarding
    job; committed before this returns, and handed to the process's analyser after. None when
    there is no such bin, BinExpired when it has expired (nothing is stored either way). Raises
    DatabaseUnavailableError when the database cannot store it now (nothing is stored)."""
    engine = db.engine
    sqlite = engine.dialect.name == "sqlite"
    # Known before storing only when the capture was a possible handshake.
    event, delivery_id = (clip(detection.event), clip(detection.delivery_id)) if detection else (None, None)
    known = {"provider_id": detection and detection.provider_id, "event": event, "delivery_id": delivery_id}
    prepare = partial(_prepare, bin_id, captured, known=known | {"handshake": handshake}, sqlite=sqlite)
    seen: dict[str, str | None] = current_app.extensions.setdefault("hookloupe.capture_redaction", {})
    prepared = prepare(seen.get(bin_id))
    stored, prepared = (_store_on_sqlite if sqlite else _store_on_postgres)(engine, prepared, prepare, forward=forward)
    if isinstance(stored, StoredCapture):
        if seen.get(bin_id) != prepared.rules:
            if len(seen) >= _SEEN_BINS:
                seen.clear()
            seen[bin_id] = prepared.rules
        current_app.extensions["hookloupe.capture_marks"].poke((bin_id,))
        committed = Committed(stored.capture_id, bin_id, prepared.captured, prepared.redacted)
        current_app.extensions["hookloupe.analyser"].notify(committed)
    return stored


def _prepare(bin_id: str, captured: CapturedRequest, rules: str | None, *, known: _Values, sqlite: bool) -> _Prepared:
    """The row values of `captured`, redacted under `rules` when they are not None."""
    redacted: list[str] = []
    if rules is not None:
        captured, redacted = redaction.redact_request(captured, redaction.rules_from_text(rules))
    values: _Values = {name: getattr(captured, name) for name in _AS_CAPTURED} | known
    flag = int if sqlite else bool  # SQLite keeps booleans as integers
    values |= {"bin_id": bin_id, "received_at": _timestamp(captured.received_at, sqlite)}
    values |= {"body_truncated": flag(captured.body_truncated), "body_incomplete": flag(captured.body_incomplete)}
    values |= {"headers": json.dumps([list(pair) for pair in captured.headers])}
    values["redacted"] = json.dumps(redacted) if redacted else None
    return _Prepared(rules, captured, tuple(redacted), values)


def _store_on_sqlite(
    engine: Engine, prepared: _Prepared, prepare: Callable[[str | None], _Prepared], *, forward: bool
) -> tuple[StoredCapture | BinExpired | None, _Prepared]:
    """The lookup and inserts as statements of a group-commit batch (see store_capture)."""
    sql = _SQL["sqlite"]
    bin_id, received_at = prepared.values["bin_id"], prepared.captured.received_at
    chosen = [prepared]

    def work(cursor: Any) -> StoredCapture | BinExpired | None:
        cursor.execute(sql["target"], (bin_id,))
        if (row := cursor.fetchone()) is None:
            return None
        target = _target(bin_id, row)
        if target.has_expired(received_at):
            return BinExpired(target.expires_at or received_at)
        rules = target.capture_redaction
        for _ in range(_REDACTION_ATTEMPTS):
            if rules != chosen[0].rules:
                chosen[0] = prepare(rules)
            params = tuple(chosen[0].values[name] for name in INSERTED_COLUMNS)
            cursor.execute(sql["insert"], (*params, bin_id, rules))
            if (inserted := cursor.fetchone()) is not None:
                break
            cursor.execute(sql["rules"], (bin_id,))  # they changed since the lookup
            rules = (cursor.fetchone() or (None,))[0]
        else:
            raise DatabaseUnavailableError(_KEPT_CHANGING)
        if forward and target.forward_url:
            cursor.execute(sql["job"], (inserted[0], target.forward_url, chosen[0].values["received_at"]))
        return StoredCapture(inserted[0], target.response)

    with _unavailable_raised():
        stored: StoredCapture | BinExpired | None = _sqlite_group_writer(engine).run(work)
    return stored, chosen[0]


def _store_on_postgres(
    engine: Engine, prepared: _Prepared, prepare: Callable[[str | None], _Prepared], *, forward: bool
) -> tuple[StoredCapture | BinExpired | None, _Prepared]:
    """`_POSTGRES_CAPTURE` in autocommit (see store_capture), again under changed redaction rules."""
    received_at = prepared.captured.received_at
    for _ in range(_REDACTION_ATTEMPTS):
        row = _run_postgres_capture(engine, {**prepared.values, "forward": forward, "redaction": prepared.rules})
        if row is None:
            return None, prepared
        target = _target(prepared.values["bin_id"], row[:-1])
        if row[-1] is not None:
            return StoredCapture(row[-1], target.response), prepared
        if target.has_expired(received_at):
            return BinExpired(target.expires_at or received_at), prepared
        prepared = prepare(target.capture_redaction)
    raise DatabaseUnavailableError(_KEPT_CHANGING)


def _run_postgres_capture(engine: Engine, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The statement's row: None when there is no such bin (or it was deleted meanwhile)."""
    with _unavailable_raised():
        raw = engine.raw_connection()
        connection: Any = raw.driver_connection
        try:
            connection.autocommit = True
            try:
                row: tuple[Any, ...] | None = connection.execute(_POSTGRES_CAPTURE, params).fetchone()
            finally:
                connection.autocommit = False
        except Exception as error:
            _release_failed(raw, error)
            if _is_foreign_key_error(error):  # the bin was deleted in between
                return None
            raise
        raw.close()
    return row


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
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else moment


def _is_foreign_key_error(error: Exception) -> bool:
    return any(words in str(error).lower() for words in ("foreign key", "foreign_key"))
