"""proxy transfer records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 04:50:14.435891
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "transfer_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transfer_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_records_endpoint_id"), ["endpoint_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transfer_records_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transfer_records_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfer_records_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("transfer_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_records_recorded_at"))
        batch_op.drop_index(batch_op.f("ix_transfer_records_project_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_records_org_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_records_endpoint_id"))

    op.drop_table("transfer_records")
