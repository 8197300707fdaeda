"""Access and sharing: API tokens, share links, the activity log, redaction rules

- `api_tokens`, `share_links`, `sign_ins`: only SHA-256 digests of the tokens are stored.
- `activity`: who replayed, forwarded, deleted or changed a bin's settings (kept after the bin).
- `bins.redact`: the bin's redaction rules (NULL: the defaults); `bins.capture_redaction`: the
  rules applied at capture, as JSON text, while that is on;
  `captures.redacted`: what redaction at capture replaced before the row was written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("bins", sa.Column("redact", sa.JSON(), nullable=True))
    op.add_column("bins", sa.Column("capture_redaction", sa.Text(), nullable=True))
    op.add_column("captures", sa.Column("redacted", sa.JSON(), nullable=True))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("bin_id", sa.String(64), sa.ForeignKey("bins.id", ondelete="CASCADE"), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_used_at", _TIME, nullable=True),
    )
    op.create_index("ix_api_tokens_bin_id", "api_tokens", ["bin_id"])
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("bin_id", sa.String(64), sa.ForeignKey("bins.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("last_used_at", _TIME, nullable=True),
        sa.Column("allow_raw", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_share_links_bin_id", "share_links", ["bin_id"])
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("bin_id", sa.String(64), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_activity_bin_id_id", "activity", ["bin_id", "id"])
    op.create_table(
        "sign_ins",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sign_ins")
    op.drop_table("activity")
    op.drop_table("share_links")
    op.drop_table("api_tokens")
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("redacted")
    with op.batch_alter_table("bins") as batch:
        batch.drop_column("capture_redaction")
        batch.drop_column("redact")
