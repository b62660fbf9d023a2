"""ORM models of the metadata store: desired state of everything Lampion manages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lampion.event_types import EventType
from lampion.states import (
    BranchState,
    DeliveryStatus,
    DesiredState,
    EndpointStatus,
    ProjectState,
)
from lampion.store.types import StrEnumColumn, UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Plan(Base):
    """A pricing plan and every limit it enforces (seeded by a migration)."""

    __tablename__ = "plans"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    max_projects: Mapped[int] = mapped_column(Integer)
    max_branches_per_project: Mapped[int] = mapped_column(Integer)
    max_compute_units: Mapped[float] = mapped_column(Float)
    cu_hour_usd: Mapped[float] = mapped_column(Float)
    storage_gb_month_usd: Mapped[float] = mapped_column(Float)
    transfer_gb_usd: Mapped[float] = mapped_column(Float)
    api_requests_per_hour: Mapped[int] = mapped_column(Integer)
    api_burst: Mapped[int] = mapped_column(Integer)
    max_history_retention_seconds: Mapped[int] = mapped_column(Integer, default=86_400)


class MetricsSnapshot(Base):
    """A running compute's vital signs, every 30 s, kept 24 h."""

    __tablename__ = "metrics_snapshots"
    __table_args__ = (Index("ix_metrics_snapshots_endpoint_at", "endpoint_id", "snapshot_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    snapshot_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    connections_total: Mapped[int] = mapped_column(Integer)
    connections_active: Mapped[int] = mapped_column(Integer)
    cache_hit_ratio: Mapped[float] = mapped_column(Float)
    storage_logical_mb: Mapped[float] = mapped_column(Float)
    compute_cpu_seconds: Mapped[float] = mapped_column(Float)
    memory_mb: Mapped[float] = mapped_column(Float)


class StorageSample(Base):
    """An endpoint's logical size over time (kept for billing; suspended ones too)."""

    __tablename__ = "storage_samples"
    __table_args__ = (Index("ix_storage_samples_endpoint_at", "endpoint_id", "sampled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(32))
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    storage_bytes: Mapped[int] = mapped_column(BigInteger)


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    plan: Mapped[str] = mapped_column(String(32), default="free")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    lookup: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    permission: Mapped[str] = mapped_column(String(16), default="developer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_org_created", "org_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    pg_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[ProjectState] = mapped_column(
        StrEnumColumn(ProjectState, 16), default=ProjectState.PROVISIONING
    )
    history_retention_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """How far back branches can be made or restored; None: LAMPION_HISTORY_RETENTION,
    capped by the plan."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Branch(Base):
    __tablename__ = "branches"
    __table_args__ = (
        Index("uq_branches_project_name", "project_id", "name", unique=True),
        Index("ix_branches_project_created", "project_id", "created_at", "id"),
        Index("ix_branches_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("branches.id"), nullable=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[BranchState] = mapped_column(
        StrEnumColumn(BranchState, 16), default=BranchState.PROVISIONING
    )
    parent_lsn: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The parent's WAL position this branch was made at (``0/16B3748``), when made at a point."""
    parent_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # written by the sampler (workers/sampler.py), read by branch responses
    logical_size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The databases' size when the compute last ran (sum of ``pg_database_size``)."""
    history_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The branch's history directory (archived WAL and base), as last measured."""
    archive_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set while the compute's WAL archiving fails: its newest failure's time."""
    archive_failed_wal: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Endpoint(Base):
    __tablename__ = "endpoints"
    __table_args__ = (Index("ix_endpoints_project_created", "project_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    branch_id: Mapped[str] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[EndpointStatus] = mapped_column(
        StrEnumColumn(EndpointStatus, 16), default=EndpointStatus.PROVISIONING
    )
    desired_state: Mapped[DesiredState] = mapped_column(
        StrEnumColumn(DesiredState, 16), default=DesiredState.RUNNING
    )
    port: Mapped[int] = mapped_column(Integer, unique=True)
    password_enc: Mapped[str] = mapped_column(Text)
    compute_units: Mapped[float] = mapped_column(Float, default=1.0)
    auto_suspend_seconds: Mapped[int] = mapped_column(Integer, default=300)
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    allowlist: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    pooler_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    pooler_mode: Mapped[str] = mapped_column(
        String(16), default="transaction", server_default="transaction"
    )


class RunningInterval(Base):
    """When a compute ran, at what size: what usage and billing are computed from.

    Kept after the endpoint is deleted (no foreign key), so past usage stays billable.
    """

    __tablename__ = "running_intervals"
    __table_args__ = (Index("ix_running_intervals_endpoint_open", "endpoint_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(32))
    compute_units: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TransferRecord(Base):
    """Bytes the proxy carried for an endpoint, flushed every few seconds (usage reads them)."""

    __tablename__ = "transfer_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(32), index=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger)
    bytes_out: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    secret_enc: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook, retried until a 2xx or the schedule runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[EventType] = mapped_column(StrEnumColumn(EventType, 64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumColumn(DeliveryStatus, 16), default=DeliveryStatus.PENDING
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set while a worker delivers it; a crashed worker's lease runs out and it is retried."""
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RateBucket(Base):
    """A token bucket (per API key, per org), updated atomically by each request."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    """Unix time, so both stores can do the refill arithmetic in SQL."""
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)


class IdempotencyKey(Base):
    """The first response to a POST with an Idempotency-Key, replayed for 24 h."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("uq_idempotency_principal_key", "principal", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the API key that sent it."""
    key: Mapped[str] = mapped_column(String(255))
    route: Mapped[str] = mapped_column(String(300))
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """None while the first request is in flight."""
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    response_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """Transactional outbox: written with the change it describes, delivered later."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    type: Mapped[EventType] = mapped_column(StrEnumColumn(EventType, 64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RoleVerifier(Base):
    """A compute role's SCRAM-SHA-256 verifier, as the proxy checks passwords with it while
    the compute sleeps; encrypted like the endpoint's password. ``verifier_enc`` is None for a
    role that logs in some other way (md5, no password): known, but not verifiable here."""

    __tablename__ = "role_verifiers"

    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    verifier_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class _HoldsConsoleKey:
    """A row that signs into the console: a token's hash and the API key it acts with
    (encrypted), which goes with its key's row."""

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    key_enc: Mapped[str] = mapped_column(Text)


class ConsoleSession(_HoldsConsoleKey, Base):
    """A signed-in browser: the cookie holds a random token, this row its hash, the key
    and the session's CSRF token."""

    __tablename__ = "console_sessions"

    csrf_token: Mapped[str] = mapped_column(String(64))
    owns_key: Mapped[bool] = mapped_column(Boolean, default=False)
    """The key was made for this session (by a sign-in link): it is revoked when it ends."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ConsoleLink(_HoldsConsoleKey, Base):
    """A one-time sign-in link (`lampion console-link`): redeemed once, before it expires."""

    __tablename__ = "console_links"

    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
