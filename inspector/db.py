"""The SQLAlchemy handle, the engine settings for SQLite and PostgreSQL, and how the pool
lets go of connections the database failed on, so writes work again without a restart.

SQLite decides whether a connection may write when it opens the file: one opened while the
file (or a read-only mount) refused writing stays read-only for its whole life, even after the
file is writable again, and while it is open, SQLite hands the same read-only state to the
other connections this process opens to that file. So a connection opened read-only is closed
when it returns to the pool rather than kept, and a connection that fails a write as read-only
is dropped together with every connection to that file opened before it. A PostgreSQL
connection idle in the pool for over PING_AFTER_IDLE_S is pinged when it leaves it (a
restarted server closed it); one used moments ago is not: under load a ping per checkout
would be one more round trip per capture. A connection that died within that second fails its
statement once and is thrown away (capture answers 503 with Retry-After).
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# SQLite file -> connections to it opened before this moment (time.monotonic()) are replaced
# when next taken from the pool: one of them failed a write as read-only (see the docstring).
_stale_before: dict[str, float] = {}


def engine_options(url: str) -> dict[str, Any]:
    """Engine options for `url`. Pools are sized so that requests rarely wait for a
    connection (streams and waits hold one only while they read); PostgreSQL's stays under
    its default 100 connections for up to four workers. Idle PostgreSQL connections are
    pinged by `watch` (module docstring)."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15, "check_same_thread": False}, "pool_size": 16, "max_overflow": 32}
    return {"pool_size": 8, "max_overflow": 16}


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    """WAL lets readers run beside the writer; foreign keys make cascades real. Also notes
    which file the connection is to and whether SQLite could open it for writing."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA database_list")
    path = next((row[2] for row in cursor.fetchall() if row[1] == "main"), "")
    cursor.close()
    if path:  # not an in-memory database
        record.info["sqlite_file"] = path
        record.info["opened_at"] = time.monotonic()
        # SQLite falls back to read-only when it cannot open the file for writing.
        record.info["read_only"] = not os.access(path, os.W_OK)


def _close_read_only(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    """A connection opened read-only is closed instead of pooled: it would never write, and
    while it is open, this process's new connections to the file would be read-only too."""
    if record.info.get("read_only"):
        record.invalidate()


def _replace_stale(
    _dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """Raising DisconnectionError makes the pool open a fresh connection in place of one
    opened before a read-only failure on the same file."""
    path = record.info.get("sqlite_file")
    if path is not None and record.info["opened_at"] < _stale_before.get(path, 0.0):
        raise DisconnectionError(f"connection to {path} opened before a read-only failure")


def _discard_read_only(context: ExceptionContext) -> None:
    """A statement run through SQLAlchemy that failed as read-only: drop its connection (and,
    as for a lost connection, the pool's older ones) instead of keeping it."""
    if is_read_only_error(context.original_exception):
        context.is_disconnect = True


def watch(engine: Engine) -> Engine:
    """Give `engine` this module's connection handling (SQLite pragmas, read-only connections
    let go). Per engine, not on every Engine of the process: the pytest plugin imports this
    package into other projects' test runs, whose own SQLite engines must stay as they are."""
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "checkin", _close_read_only)
    event.listen(engine, "checkout", _replace_stale)
    event.listen(engine, "handle_error", _discard_read_only)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "checkout", _ping_if_idle)
        event.listen(engine, "checkin", _note_checkin)
    return engine


# A pooled PostgreSQL connection idle longer than this is pinged before use (module docstring).
PING_AFTER_IDLE_S = 1.0


def _note_checkin(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(
    dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """Raising DisconnectionError makes the pool open a fresh connection in its place."""
    checked_in = record.info.get("checked_in_at")
    if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise DisconnectionError(f"connection lost while idle: {error}") from error


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for `url` with `engine_options(url)` (updated by `options`) and `watch`."""
    return watch(create_engine(url, **{**engine_options(url), **options}))


def is_read_only_error(error: BaseException) -> bool:
    """Whether SQLite refused a write because the file, its -wal/-shm or the directory was
    read-only (SQLITE_READONLY and its extended codes)."""
    return isinstance(error, sqlite3.OperationalError) and getattr(error, "sqlite_errorname", "").startswith(
        "SQLITE_READONLY"
    )


def discard_connection(raw: PoolProxiedConnection, error: BaseException | None = None) -> None:
    """Close a raw pool connection that `error` came from, instead of `raw.close()`, which
    would return a read-only or broken handle to the pool for the next request; `raw` must
    not be used after. After a read-only failure of a connection opened writable, the older
    connections to the same file go too (see the module docstring)."""
    info = raw.record_info or {}
    if error is not None and is_read_only_error(error) and not info.get("read_only") and "sqlite_file" in info:
        _stale_before[info["sqlite_file"]] = time.monotonic()
    raw.invalidate(error)  # closes it (an open transaction is dropped) and ends the checkout
