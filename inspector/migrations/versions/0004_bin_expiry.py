"""bins.expires_at

Ephemeral bins (`POST /api/bins {"expires_in_s"}`): after this moment capture and the API
answer 410 Gone and the janitor deletes the bin. NULL (every earlier bin) never expires.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bins", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    # The janitor's sweep: expired bins, without reading every bin.
    op.create_index("ix_bins_expires_at", "bins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_bins_expires_at", table_name="bins")
    with op.batch_alter_table("bins") as batch:
        batch.drop_column("expires_at")
