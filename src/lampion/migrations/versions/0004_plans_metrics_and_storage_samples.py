"""plans metrics and storage samples

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 05:25:21.400985
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "metrics_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connections_total", sa.Integer(), nullable=False),
        sa.Column("connections_active", sa.Integer(), nullable=False),
        sa.Column("cache_hit_ratio", sa.Float(), nullable=False),
        sa.Column("storage_logical_mb", sa.Float(), nullable=False),
        sa.Column("compute_cpu_seconds", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("metrics_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metrics_snapshots_endpoint_at", ["endpoint_id", "snapshot_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_metrics_snapshots_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_metrics_snapshots_snapshot_at"), ["snapshot_at"], unique=False
        )

    op.create_table(
        "plans",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("max_projects", sa.Integer(), nullable=False),
        sa.Column("max_branches_per_project", sa.Integer(), nullable=False),
        sa.Column("max_compute_units", sa.Float(), nullable=False),
        sa.Column("cu_hour_usd", sa.Float(), nullable=False),
        sa.Column("storage_gb_month_usd", sa.Float(), nullable=False),
        sa.Column("transfer_gb_usd", sa.Float(), nullable=False),
        sa.Column("api_requests_per_hour", sa.Integer(), nullable=False),
        sa.Column("api_burst", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "storage_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("storage_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("storage_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_storage_samples_endpoint_at", ["endpoint_id", "sampled_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_storage_samples_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_storage_samples_project_id"), ["project_id"], unique=False
        )

    plans = sa.table(
        "plans",
        sa.column("name", sa.String),
        sa.column("position", sa.Integer),
        sa.column("max_projects", sa.Integer),
        sa.column("max_branches_per_project", sa.Integer),
        sa.column("max_compute_units", sa.Float),
        sa.column("cu_hour_usd", sa.Float),
        sa.column("storage_gb_month_usd", sa.Float),
        sa.column("transfer_gb_usd", sa.Float),
        sa.column("api_requests_per_hour", sa.Integer),
        sa.column("api_burst", sa.Integer),
    )
    # Prices from seed 000; API rates from seed 001 (free, professional, enterprise).
    op.bulk_insert(
        plans,
        [
            {
                "name": "free",
                "position": 0,
                "max_projects": 3,
                "max_branches_per_project": 10,
                "max_compute_units": 1,
                "cu_hour_usd": 0,
                "storage_gb_month_usd": 0,
                "transfer_gb_usd": 0,
                "api_requests_per_hour": 1000,
                "api_burst": 50,
            },
            {
                "name": "dev",
                "position": 1,
                "max_projects": 20,
                "max_branches_per_project": 50,
                "max_compute_units": 4,
                "cu_hour_usd": 0.106,
                "storage_gb_month_usd": 0.35,
                "transfer_gb_usd": 0.09,
                "api_requests_per_hour": 10000,
                "api_burst": 200,
            },
            {
                "name": "pro",
                "position": 2,
                "max_projects": 1000,
                "max_branches_per_project": 500,
                "max_compute_units": 4,
                "cu_hour_usd": 0.106,
                "storage_gb_month_usd": 0.35,
                "transfer_gb_usd": 0.09,
                "api_requests_per_hour": 100000,
                "api_burst": 1000,
            },
        ],
    )


def downgrade() -> None:

    with op.batch_alter_table("storage_samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_samples_project_id"))
        batch_op.drop_index(batch_op.f("ix_storage_samples_org_id"))
        batch_op.drop_index("ix_storage_samples_endpoint_at")

    op.drop_table("storage_samples")
    op.drop_table("plans")
    with op.batch_alter_table("metrics_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metrics_snapshots_snapshot_at"))
        batch_op.drop_index(batch_op.f("ix_metrics_snapshots_project_id"))
        batch_op.drop_index("ix_metrics_snapshots_endpoint_at")

    op.drop_table("metrics_snapshots")
