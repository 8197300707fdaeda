"""The text search index's schema and rows: created with the captures table, filled by the analyser.

The index holds, per capture, `matchers.searchable_text` (lower-cased decoded body, headers,
path, query, form values) cut at TEXT_CHARS; `cut` marks a capture whose text was longer, so
a search always checks it row by row. Every new capture is listed in
`capture_search_pending` by a trigger on captures (whoever inserts it: the capture path, an
import, a restore), and stays there until it is indexed: the analyser's thread indexes the
pending captures apart from their analysis, within a share of its time while captures arrive
(analyser.py, store/indexing.py). A search checks the pending captures row by row besides its
index hits (store/fts.py).

- SQLite: an FTS5 table `capture_fts(words, cut)` with the trigram tokenizer (substring
  search, 3 characters or more), rowid = capture id; a trigger on captures removes a deleted
  capture's row.
- PostgreSQL: a table `capture_text(capture_id, text, cut)` with a pg_trgm GIN index (LIKE
  '%…%' uses it), deleted with its capture (ON DELETE CASCADE). pg_trgm needs a superuser to
  be created once (`CREATE EXTENSION pg_trgm`); without it there is no index and text search
  scans rows as before (`exists` says which).

`create` runs for a fresh database (with `create_all`, models.py) and in migration 0008;
`backfill` indexes stored captures. The tables are not models: tests/test_migrations.py
leaves them out of its model comparison (`is_index_table`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from inspector.matchers import decoded_body, searchable_text

log = logging.getLogger(__name__)

# A capture's indexed text is cut at this many characters (its row is then marked `cut`).
TEXT_CHARS = 64 * 1024
# Captures read per batch by `backfill`.
BACKFILL_BATCH = 500

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS capture_fts USING fts5(words, cut, tokenize='trigram')",
    "CREATE TABLE IF NOT EXISTS capture_search_pending (capture_id INTEGER PRIMARY KEY)",
    "CREATE TRIGGER IF NOT EXISTS captures_search_pending AFTER INSERT ON captures "
    "BEGIN INSERT INTO capture_search_pending (capture_id) VALUES (new.id); END",
    "CREATE TRIGGER IF NOT EXISTS captures_fts_delete AFTER DELETE ON captures BEGIN "
    "DELETE FROM capture_fts WHERE rowid = old.id; "
    "DELETE FROM capture_search_pending WHERE capture_id = old.id; END",
)
_POSTGRES_DDL = (
    "CREATE TABLE IF NOT EXISTS capture_text (capture_id INTEGER PRIMARY KEY "
    "REFERENCES captures (id) ON DELETE CASCADE, text TEXT NOT NULL, cut BOOLEAN NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_capture_text_trgm ON capture_text USING gin (text gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_capture_text_cut ON capture_text (capture_id) WHERE cut",
    "CREATE TABLE IF NOT EXISTS capture_search_pending (capture_id INTEGER PRIMARY KEY "
    "REFERENCES captures (id) ON DELETE CASCADE)",
    # One statement-level trigger: a multi-row INSERT or a COPY lists its rows in one go.
    "CREATE OR REPLACE FUNCTION capture_search_pending() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN INSERT INTO capture_search_pending (capture_id) SELECT id FROM new_captures; RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS captures_search_pending ON captures",
    "CREATE TRIGGER captures_search_pending AFTER INSERT ON captures REFERENCING NEW TABLE AS new_captures "
    "FOR EACH STATEMENT EXECUTE FUNCTION capture_search_pending()",
)
# A capture indexed is no longer pending (parameter: its id).
UNPEND = {
    "sqlite": "DELETE FROM capture_search_pending WHERE capture_id = ?",
    "postgresql": "DELETE FROM capture_search_pending WHERE capture_id = %s",
}
# Writing one capture's row (parameters: id, text, cut, id), when the capture still exists.
UPSERT = {
    "sqlite": "INSERT OR REPLACE INTO capture_fts (rowid, words, cut) SELECT ?, ?, ? "
    "WHERE EXISTS (SELECT 1 FROM captures WHERE id = ?)",
    "postgresql": "INSERT INTO capture_text (capture_id, text, cut) SELECT %s, %s, %s "
    "WHERE EXISTS (SELECT 1 FROM captures WHERE id = %s) "
    "ON CONFLICT (capture_id) DO UPDATE SET text = EXCLUDED.text, cut = EXCLUDED.cut",
}


def is_index_table(name: str) -> bool:
    """Whether a table is the index's (FTS5 makes capture_fts_* shadow tables)."""
    return name in ("capture_text", "capture_fts", "capture_search_pending") or name.startswith("capture_fts_")


def create(conn: Connection) -> bool:
    """Create the index on `conn` (in its transaction); False when it cannot be (PostgreSQL
    without pg_trgm, which needs a superuser to install: text search then scans rows)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DDL:
            conn.exec_driver_sql(statement)
        return True
    if dialect != "postgresql":
        return False
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as error:
        log.warning("no text search index: pg_trgm cannot be created (%s); text search scans rows", error.orig)
        return False
    for statement in _POSTGRES_DDL:
        conn.exec_driver_sql(statement)
    return True


def drop(conn: Connection) -> None:
    """Remove the index (migration 0008's downgrade)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS captures_fts_delete")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS captures_search_pending")
        conn.exec_driver_sql("DROP TABLE IF EXISTS capture_fts")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS captures_search_pending ON captures")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS capture_search_pending()")
        conn.exec_driver_sql("DROP TABLE IF EXISTS capture_text")
    conn.exec_driver_sql("DROP TABLE IF EXISTS capture_search_pending")


def exists(conn: Connection) -> bool:
    """Whether the database has the index."""
    if conn.dialect.name == "sqlite":
        query = "SELECT 1 FROM sqlite_master WHERE name = 'capture_fts'"
    elif conn.dialect.name == "postgresql":
        query = "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_capture_text_trgm' AND schemaname = current_schema()"
    else:
        return False
    return conn.exec_driver_sql(query).first() is not None


def index_row(
    capture_id: int, path: str, query_string: str, headers: Iterable[Sequence[str]], content_type: str, body: bytes
) -> tuple[int, str, bool, int]:
    """The UPSERT parameters for one capture: (id, text, cut, id). NUL (which PostgreSQL text
    cannot hold) becomes a space: at worst a search checks one more row. A lone surrogate (a
    restored path or header that was not UTF-8) cannot be stored as text: it becomes "?" and
    the row is marked `cut`, so the matcher checks it row by row."""
    headers = list(headers)
    words = searchable_text(path, query_string, headers, content_type, decoded_body(headers, body))
    cut = len(words) > TEXT_CHARS
    stored = words[:TEXT_CHARS].replace("\0", " ")
    storable = stored if stored.isascii() else stored.encode("utf-8", "replace").decode("utf-8")
    return capture_id, storable, cut or storable != stored, capture_id


def cut_value(dialect: str, cut: bool) -> Any:
    """How `cut` is stored: FTS5 indexes text (a search looks for "yes"), PostgreSQL a boolean."""
    return ("yes" if cut else "") if dialect == "sqlite" else cut


def backfill(conn: Connection, *, after: int = 0, batch: int = BACKFILL_BATCH, pending: bool = False) -> int:
    """Index every capture with id > `after` (only the pending ones with `pending`), batch
    by batch in `conn`'s transaction; how many were indexed. Migration 0008 runs it on an
    upgraded database, the bench after writing rows straight to the table."""
    dialect = conn.dialect.name
    if dialect not in UPSERT or not exists(conn):
        return 0
    only = "AND id IN (SELECT capture_id FROM capture_search_pending) " if pending else ""
    select_rows = text(
        "SELECT id, path, query_string, headers, content_type, body FROM captures "
        f"WHERE id > :after {only}ORDER BY id LIMIT :n"
    )
    done = 0
    while True:
        rows = conn.execute(select_rows, {"after": after, "n": batch}).all()
        if not rows:
            return done
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        write_rows(cursor, dialect, [_row_of(row) for row in rows])
        cursor.close()
        done += len(rows)
        after = rows[-1].id


def write_rows(cursor: Any, dialect: str, rows: Sequence[tuple[int, str, bool, int]]) -> None:
    """Write index rows (`index_row`) with a DB-API cursor and unlist them as pending."""
    cursor.executemany(
        UPSERT[dialect], [(capture_id, words, cut_value(dialect, cut), same) for capture_id, words, cut, same in rows]
    )
    cursor.executemany(UNPEND[dialect], [(row[0],) for row in rows])


def _row_of(row: Any) -> tuple[int, str, bool, int]:
    return index_row_of((row.id, row.path, row.query_string, row.headers, row.content_type, row.body))


def index_row_of(values: Sequence[Any]) -> tuple[int, str, bool, int]:
    """`index_row` of a database row (id, path, query_string, headers, content_type, body):
    headers as the driver gives them (JSON text, or already a list), the body as bytes."""
    capture_id, path, query_string, headers, content_type, body = values
    headers = headers if isinstance(headers, list) else _json(headers)
    return index_row(capture_id, path, query_string, headers, content_type, bytes(body))


def _json(value: Any) -> list[list[str]]:
    import json

    return list(json.loads(value)) if value else []
