"""captures.body_incomplete

A body that ended before its Content-Length or its chunked framing said it would is stored
(what arrived), answered 400 and marked incomplete, so nobody mistakes it for a whole webhook.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every earlier capture was stored whole as far as anyone knew: false.
    op.add_column("captures", sa.Column("body_incomplete", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # As in 0002: SQLite copies the table to drop a column; keep AUTOINCREMENT and the id counter.
    sequence = "SELECT seq FROM sqlite_sequence WHERE name = 'captures'"
    next_id = op.get_bind().execute(sa.text(sequence)).scalar() if op.get_bind().dialect.name == "sqlite" else None
    with op.batch_alter_table("captures", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("body_incomplete")
    if next_id is not None:
        op.execute(f"UPDATE sqlite_sequence SET seq = max(seq, {int(next_id)}) WHERE name = 'captures'")
