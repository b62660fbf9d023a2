"""branch history status: last sampled logical and history sizes, archive failures

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("branches") as batch_op:
        batch_op.add_column(sa.Column("logical_size_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("history_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("archive_failed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("archive_failed_wal", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("branches") as batch_op:
        batch_op.drop_column("archive_failed_wal")
        batch_op.drop_column("archive_failed_at")
        batch_op.drop_column("history_bytes")
        batch_op.drop_column("logical_size_bytes")
