"""time travel: branch points, expiry and protection; history retention per project and plan

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = 86_400
PLAN_HISTORY = {"free": DAY, "dev": 7 * DAY, "pro": 30 * DAY}


def upgrade() -> None:
    with op.batch_alter_table("branches") as batch_op:
        batch_op.add_column(sa.Column("parent_lsn", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("parent_timestamp", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("protected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_branches_expires_at", ["expires_at"])
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(sa.Column("history_retention_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("plans") as batch_op:
        batch_op.add_column(
            sa.Column(
                "max_history_retention_seconds",
                sa.Integer(),
                nullable=False,
                server_default=str(DAY),
            )
        )
    plans = sa.table(
        "plans", sa.column("name", sa.String), sa.column("max_history_retention_seconds")
    )
    for name, seconds in PLAN_HISTORY.items():
        op.execute(
            plans.update().where(plans.c.name == name).values(max_history_retention_seconds=seconds)
        )


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch_op:
        batch_op.drop_column("max_history_retention_seconds")
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("history_retention_seconds")
    with op.batch_alter_table("branches") as batch_op:
        batch_op.drop_index("ix_branches_expires_at")
        batch_op.drop_column("protected")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("parent_timestamp")
        batch_op.drop_column("parent_lsn")
