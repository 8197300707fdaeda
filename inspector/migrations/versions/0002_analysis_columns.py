"""analysis columns

Analysis once per capture: `bins.analysis_generation` (bumped when what a verdict depends on
changes), `captures.signature` (the verdict's detail), and the indexes the counts, filters and
the analysers' work list use.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bins", sa.Column("analysis_generation", sa.Integer(), server_default="0", nullable=False))
    op.add_column("captures", sa.Column("signature", sa.JSON(), nullable=True))
    # The first release judged lazily and stored only the status, never the detail that now goes
    # in `signature`: forget those verdicts so the analyser re-analyses every row (it works
    # through `verdict IS NULL`). Before the indexes, so the update does not maintain them.
    op.execute("UPDATE captures SET verdict = NULL WHERE verdict IS NOT NULL")
    op.create_index("ix_captures_bin_provider", "captures", ["bin_id", "provider_id", "id"])
    op.create_index("ix_captures_bin_verdict", "captures", ["bin_id", "verdict", "id"])
    op.create_index(
        "ix_captures_unanalysed",
        "captures",
        ["id"],
        sqlite_where=sa.text("verdict IS NULL"),
        postgresql_where=sa.text("verdict IS NULL"),
    )


def downgrade() -> None:
    # Verdicts stay: the first release reads a stored status as its own, and judges a NULL anew.
    op.drop_index("ix_captures_unanalysed", table_name="captures")
    op.drop_index("ix_captures_bin_verdict", table_name="captures")
    op.drop_index("ix_captures_bin_provider", table_name="captures")
    # On SQLite dropping a column copies the table (batch mode), which would lose AUTOINCREMENT
    # and move the id counter back to the highest id left: keep both, ids are never reused.
    sequence = "SELECT seq FROM sqlite_sequence WHERE name = 'captures'"
    next_id = op.get_bind().execute(sa.text(sequence)).scalar() if op.get_bind().dialect.name == "sqlite" else None
    with op.batch_alter_table("captures", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("signature")
    if next_id is not None:
        op.execute(f"UPDATE sqlite_sequence SET seq = max(seq, {int(next_id)}) WHERE name = 'captures'")
    with op.batch_alter_table("bins") as batch:
        batch.drop_column("analysis_generation")
