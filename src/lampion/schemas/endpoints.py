"""Endpoints (computes), as in the API reference (seed 000)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lampion.compute.sizing import ALLOWED_COMPUTE_UNITS
from lampion.schemas.common import RequestModel, ResponseModel, Timestamp
from lampion.schemas.connection import ConnectionInfo
from lampion.states import EndpointStatus

AUTO_SUSPEND_MIN, AUTO_SUSPEND_MAX = 10, 604800
PoolerMode = Literal["transaction", "session"]


class Endpoint(ConnectionInfo):
    id: str = Field(examples=["ep-abc"])
    project_id: str
    branch_id: str
    status: EndpointStatus = Field(examples=["running"])
    auto_suspend_seconds: int = Field(examples=[300])
    compute_units: float = Field(examples=[1.0])
    last_active_at: Timestamp | None = None
    created_at: Timestamp
    pooler_enabled: bool = Field(True, description="A PgBouncer runs with the compute")
    pooler_mode: PoolerMode = Field("transaction", examples=["transaction"])


class EndpointState(ResponseModel):
    id: str = Field(examples=["ep-abc"])
    status: EndpointStatus = Field(examples=["suspended"])


class EndpointUpdate(RequestModel):
    auto_suspend_seconds: int | None = Field(
        None,
        examples=[600],
        description=f"0 disables auto-suspend; otherwise {AUTO_SUSPEND_MIN}…{AUTO_SUSPEND_MAX}",
    )
    compute_units: float | None = Field(
        None, examples=[1], description=f"One of {', '.join(map(str, ALLOWED_COMPUTE_UNITS))}"
    )
    pooler_enabled: bool | None = Field(
        None, examples=[True], description="Run a PgBouncer with the compute (`<id>-pooler`)"
    )
    pooler_mode: PoolerMode | None = Field(
        None, examples=["transaction"], description="PgBouncer's pool mode"
    )

    @field_validator("auto_suspend_seconds")
    @classmethod
    def _auto_suspend_range(cls, value: int | None) -> int | None:
        if value is not None and value != 0 and not AUTO_SUSPEND_MIN <= value <= AUTO_SUSPEND_MAX:
            raise ValueError(f"must be 0 or between {AUTO_SUSPEND_MIN} and {AUTO_SUSPEND_MAX}")
        return value

    @field_validator("compute_units")
    @classmethod
    def _allowed_size(cls, value: float | None) -> float | None:
        if value is not None and value not in ALLOWED_COMPUTE_UNITS:
            raise ValueError(f"must be one of {', '.join(map(str, ALLOWED_COMPUTE_UNITS))}")
        return value


class AllowlistUpdate(RequestModel):
    allowlist: list[str] = Field(
        examples=[["10.0.0.0/8", "203.0.113.7"]],
        description="IP addresses or CIDR networks; an empty list allows every address",
    )
