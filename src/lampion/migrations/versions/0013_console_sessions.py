"""console sessions and one-time sign-in links

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 21:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owner_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column(
            "org_id", sa.String(length=32), sa.ForeignKey("orgs.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column(
            "api_key_id", sa.String(length=32),
            sa.ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False, index=True,
        ),
        sa.Column("key_enc", sa.Text(), nullable=False),
    ]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        *_owner_columns(),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("owns_key", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "console_links",
        *_owner_columns(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_links")
    op.drop_table("console_sessions")
