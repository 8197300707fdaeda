"""Writing the text search index (search_index.py) for the captures that wait for it.

Every new capture is listed in `capture_search_pending` by a trigger; `index_pending` takes
the oldest of them, computes their index rows and writes them in one write transaction (on
SQLite, the capture path's group commit). The pick happens inside that transaction, so two
processes never index the same captures: SQLite writes one transaction at a time, and on
PostgreSQL the pick skips rows another transaction holds (SKIP LOCKED: another indexer, or a
delete in progress) and keeps the picked captures from being deleted until their index rows
are in (FOR KEY SHARE: capture_text refers to them).
"""

from __future__ import annotations

from typing import Any

from inspector import search_index
from inspector.capture import insert
from inspector.db import db
from inspector.store import fts

_COLUMNS = "c.id, c.path, c.query_string, c.headers, c.content_type, c.body"
_FROM = "FROM capture_search_pending p JOIN captures c ON c.id = p.capture_id ORDER BY p.capture_id"
_PICK = {
    "sqlite": f"SELECT {_COLUMNS} {_FROM} LIMIT ?",
    "postgresql": f"SELECT {_COLUMNS} {_FROM} LIMIT %s FOR UPDATE OF p SKIP LOCKED FOR KEY SHARE OF c SKIP LOCKED",
}


def index_pending(limit: int) -> int:
    """Index up to `limit` of the captures waiting for the index, oldest first; how many were
    indexed (0 without the index)."""
    if not fts.enabled():
        return 0
    dialect = db.engine.dialect.name
    db.session.rollback()  # the write runs on a connection of its own; hold nothing meanwhile

    def work(cursor: Any) -> int:
        cursor.execute(_PICK[dialect], (limit,))
        rows = [search_index.index_row_of(values) for values in cursor.fetchall()]
        if rows:
            search_index.write_rows(cursor, dialect, rows)
        return len(rows)

    return int(insert.run_write(work))
