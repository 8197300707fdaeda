"""The text search index (inspector/search_index.py)

SQLite: an FTS5 table `capture_fts` (trigram tokenizer) and a trigger that removes a deleted
capture's row; PostgreSQL: `capture_text` with a pg_trgm GIN index (without pg_trgm, which a
superuser must install, nothing is created and text search scans rows). Every stored capture
is indexed here, in batches (about 1 s per 10,000 captures); from now on the analyser indexes
each new capture with its analysis.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from inspector import search_index

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if search_index.create(connection):
        search_index.backfill(connection)


def downgrade() -> None:
    search_index.drop(op.get_bind())
