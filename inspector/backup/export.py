"""Write the whole database as export lines, from one consistent snapshot."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TextIO, cast

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, func, select

from inspector import migrate
from inspector.backup.records import FORMAT, SECRETS_NOTE, VERSION, SchemaError, bin_record, capture_record, line
from inspector.models import Bin, Capture, Secret

# Export reads captures page by page: ids first, then rows with at most this many body bytes
# at once (one body larger than that is read alone), so memory stays bounded.
_ID_PAGE = 500
BODY_BYTES_PER_READ = 16 * 1024 * 1024
_BINS, _CAPTURES, _SECRETS = (cast(Table, model.__table__) for model in (Bin, Capture, Secret))


def export_lines(engine: Engine, *, now: datetime) -> Iterator[str]:
    """The whole database as export lines (each ending in a newline), read from one consistent
    snapshot, so a server may keep capturing meanwhile. A generator: nothing is read until the
    first line is taken, and closing it early releases the connection. SchemaError when the
    database is not at the head revision."""
    with _snapshot(engine) as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision != migrate.head():
            raise SchemaError(
                f"the database is at revision {revision or 'none'}, not {migrate.head()}: run `hookloupe db upgrade`"
            )
        low, high = conn.execute(select(func.min(_CAPTURES.c.id), func.max(_CAPTURES.c.id))).one()
        yield line(
            {
                "format": FORMAT,
                "version": VERSION,
                "exported_at": now.isoformat(timespec="microseconds"),
                "schema": revision,
                "capture_ids": None if low is None else [low, high],
                "secrets": SECRETS_NOTE,
            }
        )
        secrets = _secrets_by_bin(conn)
        bins = captures = 0
        for row in _bin_rows(conn):
            bins += 1
            yield line(bin_record(row._asdict(), secrets.get(row.id, [])))
        for row in _capture_rows(conn):
            captures += 1
            yield line(capture_record(row._asdict()))
        yield line({"type": "end", "bins": bins, "captures": captures})


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see the database as of one moment."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            yield conn
        return
    with engine.connect() as conn:
        # The sqlite3 driver opens no transaction for reads, so each SELECT would see a newer
        # state; an explicit one keeps a single read snapshot (WAL) until the rollback.
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def _secrets_by_bin(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every secret row, grouped by bin, oldest first (secrets are few and small)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(select(_SECRETS).order_by(_SECRETS.c.bin_id, _SECRETS.c.id)):
        grouped.setdefault(row.bin_id, []).append(row._asdict())
    return grouped


def _bin_rows(conn: Connection) -> Iterator[Any]:
    """Every bin row by id, a page at a time (a custom response body may be 1 MiB)."""
    after: str | None = None
    while True:
        query = select(_BINS).order_by(_BINS.c.id).limit(100)
        rows = list(conn.execute(query if after is None else query.where(_BINS.c.id > after)))
        yield from rows
        if len(rows) < 100:
            return
        after = rows[-1].id


def _capture_rows(conn: Connection) -> Iterator[Any]:
    """Every capture row by id; at most about BODY_BYTES_PER_READ of bodies in memory."""
    after = 0
    while True:
        sizes = conn.execute(
            select(_CAPTURES.c.id, func.length(_CAPTURES.c.body))
            .where(_CAPTURES.c.id > after)
            .order_by(_CAPTURES.c.id)
            .limit(_ID_PAGE)
        ).all()
        for ids in chunks_by_size([(row[0], row[1] or 0) for row in sizes], BODY_BYTES_PER_READ):
            yield from conn.execute(select(_CAPTURES).where(_CAPTURES.c.id.in_(ids)).order_by(_CAPTURES.c.id))
        if len(sizes) < _ID_PAGE:
            return
        after = sizes[-1][0]


def chunks_by_size(sizes: list[tuple[int, int]], limit: int) -> Iterator[list[int]]:
    """Consecutive ids grouped so each group's bodies add up to at most `limit` bytes (a larger
    body makes a group of its own). Bin exports (exports/batches.py) read in the same groups."""
    chunk: list[int] = []
    total = 0
    for capture_id, size in sizes:
        if chunk and total + size > limit:
            yield chunk
            chunk, total = [], 0
        chunk.append(capture_id)
        total += size
    if chunk:
        yield chunk


def write_export(engine: Engine, path: str | None, *, now: datetime) -> dict[str, int]:
    """Write the export to `path` (None: standard output) and return its end line's counts.
    A file is written as `<path>.partial` and renamed once complete, so `path` never holds a
    cut-off export; on an error the partial file is removed and the error propagates."""
    if path is None:
        return _write(engine, sys.stdout, now)
    partial = path + ".partial"
    try:
        with open(partial, "w", encoding="ascii") as out:
            counts = _write(engine, out, now)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise
    return counts


def _write(engine: Engine, out: TextIO, now: datetime) -> dict[str, int]:
    last = ""
    for text in export_lines(engine, now=now):
        out.write(text)
        last = text
    out.flush()
    end = json.loads(last)
    return {"bins": end["bins"], "captures": end["captures"]}
