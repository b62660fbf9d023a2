"""endpoint pooler: PgBouncer per compute, on by default, in transaction mode

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-23 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
# re-chained onto "0011" when merged beside the proxy-authentication migration
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("endpoints") as batch_op:
        batch_op.add_column(
            sa.Column("pooler_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column(
                "pooler_mode", sa.String(length=16), nullable=False, server_default="transaction"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("endpoints") as batch_op:
        batch_op.drop_column("pooler_mode")
        batch_op.drop_column("pooler_enabled")
