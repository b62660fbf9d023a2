"""allowlists and running intervals

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 04:30:49.965688
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "running_intervals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("compute_units", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("running_intervals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_running_intervals_endpoint_open", ["endpoint_id", "ended_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_running_intervals_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_running_intervals_project_id"), ["project_id"], unique=False
        )

    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowlist", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:

    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_column("allowlist")

    with op.batch_alter_table("running_intervals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_running_intervals_project_id"))
        batch_op.drop_index(batch_op.f("ix_running_intervals_org_id"))
        batch_op.drop_index("ix_running_intervals_endpoint_open")

    op.drop_table("running_intervals")
