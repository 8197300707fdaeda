"""captures.pinned and captures.note

A pinned capture is kept by pruning (MAX_REQUESTS_PER_BIN, a bin's max_requests) and by
clear-all; `note` is a short remark the owner writes on a capture. Every earlier capture is
unpinned and has no note.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("captures", sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("captures", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("note")
        batch.drop_column("pinned")
