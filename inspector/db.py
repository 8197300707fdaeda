"""The SQLAlchemy handle and the engine settings for SQLite and PostgreSQL."""

from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def engine_options(url: str) -> dict[str, Any]:
    """Engine options for `url`. Pools are sized for a gthread worker (32 threads plus the
    janitor and forwarder) so threads rarely wait for a connection; PostgreSQL's stays under
    its default 100 connections for up to four workers."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15, "check_same_thread": False}, "pool_size": 16, "max_overflow": 32}
    return {"pool_pre_ping": True, "pool_size": 8, "max_overflow": 16}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """WAL lets readers run beside the writer; foreign keys make cascades real."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()
