"""indexes in the order lists are read: a parent's rows by creation then id

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_projects_org_created": ("projects", ["org_id", "created_at", "id"]),
    "ix_branches_project_created": ("branches", ["project_id", "created_at", "id"]),
    "ix_endpoints_project_created": ("endpoints", ["project_id", "created_at", "id"]),
    "ix_webhook_deliveries_webhook_created": (
        "webhook_deliveries",
        ["webhook_id", "created_at", "id"],
    ),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
