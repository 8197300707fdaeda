"""Bring a database's schema to the head revision (Alembic; the revisions are in migrations/versions/).

(`downgrade` goes the other way, by hand only: docs/operations.md, "Upgrading".)

Alembic is configured here, without an alembic.ini: the scripts ship inside the package and
always run on a connection this module opens from the app's engine. Three kinds of database:

- empty: `create_all()` of the current models, stamped with the head revision (one step, fast:
  the tests build an app, hence a schema, per test; tests/test_migrations.py checks that the
  revisions build exactly the same schema);
- made by the first release (160a7fe), which kept no version table: stamped with FIRST_RELEASE,
  whose schema it has, then upgraded;
- versioned: upgraded to head; nothing happens when it is there already.

Several processes may start at once (gunicorn workers, `hookloupe db upgrade` beside a running
server): the work is done under a lock, a PostgreSQL advisory lock held by the transaction or a
file lock for SQLite, and whoever comes second finds the database at head.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

SCRIPTS = Path(__file__).resolve().parent / "migrations"
# The revision whose schema is exactly the first release's: its databases are stamped with it.
FIRST_RELEASE = "0001"
# Any constant shared by every process: the key of the PostgreSQL advisory lock.
_PG_LOCK_KEY = 72431


class NewerSchemaError(Exception):
    """The database was upgraded by a newer version of Hookloupe than this one."""


@dataclass(frozen=True)
class Revision:
    """One revision script: `down` is the revision it follows (None for the first)."""

    id: str
    down: str | None
    message: str
    is_head: bool


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did. `before` is None when the database was empty (`created`) and
    FIRST_RELEASE for an unversioned first-release database (`stamped`)."""

    before: str | None
    after: str
    created: bool = False
    stamped: bool = False

    def __str__(self) -> str:
        if self.created:
            return f"created the schema at {self.after}"
        if self.before == self.after:
            return f"already at {self.after}"
        stamped = " (a first-release database, stamped first)" if self.stamped else ""
        return f"upgraded {self.before} → {self.after}{stamped}"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged scripts; env.py runs on `connection`."""
    config = Config()
    # Config values go through ConfigParser interpolation: a literal % must be doubled.
    config.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision id."""
    revision = _scripts().get_current_head()
    assert revision is not None, "no revision scripts in inspector/migrations/versions"
    return revision


def history() -> list[Revision]:
    """Every revision, newest first."""
    heads = set(_scripts().get_heads())
    revisions = []
    for script in _scripts().walk_revisions():
        down = script.down_revision
        down = down if down is None or isinstance(down, str) else ", ".join(down)  # a merge has several
        revisions.append(Revision(script.revision, down, (script.doc or "").strip(), script.revision in heads))
    return revisions


def current(engine: Engine) -> str | None:
    """The database's revision; None when it has no version table (it is empty, or was made by
    the first release, which kept none — `is_unversioned` tells them apart)."""
    with engine.connect() as conn:
        return _revision(conn)


def is_unversioned(engine: Engine) -> bool:
    """True for a database made by the first release: Hookloupe's tables, no version table."""
    with engine.connect() as conn:
        return _revision(conn) is None and inspect(conn).has_table("bins")


def upgrade(engine: Engine, *, lock_path: str | None) -> Upgrade:
    """Bring the database to head (see the module docstring); running it again does nothing.

    `lock_path` is the file SQLite processes lock while one of them works (instance/schema.lock);
    None takes no file lock. Errors from the database or a revision propagate, and the whole
    upgrade, one transaction, is rolled back. NewerSchemaError when the database is at a
    revision this version does not know (a newer Hookloupe upgraded it).
    """
    target = head()
    # The common case, every start of an up-to-date server: one read, no lock. Not on SQLite:
    # a first connection there switches the file to WAL, which fails while another process
    # holds it for an upgrade, so SQLite processes always take the (cheap) file lock first.
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn:
            if _revision(conn) == target:
                return Upgrade(target, target)
    with _locked(engine, lock_path) as conn:
        before = _revision(conn)
        if before == target:  # another process did it while we waited for the lock
            return Upgrade(before, target)
        if before is None and not inspect(conn).has_table("bins"):
            from inspector import models  # noqa: F401  (registers the tables)
            from inspector.db import db

            db.metadata.create_all(conn)
            MigrationContext.configure(conn).stamp(_scripts(), target)
            return Upgrade(None, target, created=True)
        if before is not None and before not in {script.revision for script in _scripts().walk_revisions()}:
            raise NewerSchemaError(
                f"the database is at revision {before}, which this version of Hookloupe does not know "
                f"(its newest is {target}): run the newer version, or downgrade the database with it"
            )
        if before is None:
            MigrationContext.configure(conn).stamp(_scripts(), FIRST_RELEASE)
        command.upgrade(alembic_config(conn), target)
        return Upgrade(before or FIRST_RELEASE, target, stamped=before is None)


def downgrade(engine: Engine, revision: str, *, lock_path: str | None) -> None:
    """Take the database back to `revision` ("base" drops every table), under the same lock;
    by hand only, e.g. to go back to an older release. What a revision drops is lost."""
    with _locked(engine, lock_path) as conn:
        command.downgrade(alembic_config(conn), revision)


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _locked(engine: Engine, lock_path: str | None) -> Iterator[Connection]:
    """A connection inside a transaction, held by one process at a time."""
    if engine.dialect.name == "postgresql":
        # PostgreSQL's DDL is transactional: the lock, the DDL and the version stamp commit together.
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            yield conn
        return
    with _file_lock(lock_path), engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # Batch mode alters a table by copying it and dropping the original; with foreign
            # keys on, that DROP would cascade and delete every dependent row. (It must be set
            # outside a transaction, and is restored before the connection goes back to the pool.)
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if sqlite:
                    # The driver opens a transaction only before DML, so DDL would commit at once:
                    # open it now, and a failed upgrade leaves nothing behind, as on PostgreSQL.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


@contextmanager
def _file_lock(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
