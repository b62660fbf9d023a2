"""Metrics and usage, as in the API reference (seed 000)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lampion.schemas.common import Timestamp
from lampion.states import EndpointStatus


class Snapshot(BaseModel):
    snapshot_at: Timestamp
    connections_total: int = Field(examples=[3])
    connections_active: int = 0
    storage_logical_mb: float = Field(examples=[42.1])
    cache_hit_ratio: float = Field(examples=[98.5], description="Percent")
    compute_cpu_seconds: float = Field(examples=[123.4])
    memory_mb: float


class LiveMetrics(BaseModel):
    endpoint_id: str
    connections_total: int = Field(examples=[5])
    connections_active: int
    cache_hit_ratio: float = Field(examples=[98.5], description="Percent")
    storage_logical_mb: float = Field(examples=[42.3], description="Sum of database sizes")
    compute_cpu_seconds: float = Field(examples=[123.4])
    memory_mb: float = Field(description="Resident memory of the compute's processes")
    status: EndpointStatus = Field(examples=["running"])
    sampled_at: Timestamp | None


class Usage(BaseModel):
    compute_hours: float = Field(examples=[12.5], description="Running hours times compute units")
    storage_gb: float = Field(examples=[0.042], description="Time-weighted average")
    transfer_total_gb: float = Field(examples=[0.001])
    period: str = Field(examples=["2026-03"])


class ProjectUsage(Usage):
    id: str
    name: str | None


class Cost(BaseModel):
    compute_usd: float
    storage_usd: float
    transfer_usd: float
    total_usd: float = Field(examples=[2.65])


class OrgUsage(BaseModel):
    plan: dict[str, Any]
    period: str
    total: Usage
    projects: list[ProjectUsage]
    estimated_cost: Cost
