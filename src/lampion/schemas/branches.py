"""Branches (copy-on-write forks), as in the API reference (seed 000)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from lampion.schemas.common import Name, RequestModel, ResponseModel, Timestamp
from lampion.schemas.connection import ConnectionInfo
from lampion.states import BranchState


class BranchCreate(RequestModel):
    name: Name = Field(examples=["staging"])
    parent_id: str | None = Field(
        None,
        examples=["br-main123"],
        description="Parent branch id (or name); default the primary branch",
    )
    parent_timestamp: datetime | None = Field(
        None,
        strict=False,
        examples=["2026-11-23T09:41:00Z"],
        description="Branch the parent as it was at this time (RFC 3339) instead of now",
    )
    parent_lsn: str | None = Field(
        None,
        pattern=r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$",
        examples=["0/16B3748"],
        description="Branch the parent as it was at this WAL position instead of now",
    )

    @model_validator(mode="after")
    def _one_point(self) -> BranchCreate:
        if self.parent_timestamp is not None and self.parent_lsn is not None:
            raise ValueError("give parent_timestamp or parent_lsn, not both")
        if self.parent_timestamp is not None and self.parent_timestamp.tzinfo is None:
            raise ValueError("parent_timestamp needs a time zone (RFC 3339)")
        return self


class Branch(ResponseModel):
    id: str = Field(examples=["br-abc"])
    project_id: str
    name: str = Field(examples=["main"])
    is_primary: bool
    parent_id: str | None = None
    state: BranchState = Field(examples=["ready"])
    endpoint_id: str | None = Field(None, examples=["ep-abc"])
    created_at: Timestamp
    parent_lsn: str | None = Field(None, examples=["0/16B3748"])
    parent_timestamp: Timestamp | None = None
    earliest_restore_time: Timestamp | None = Field(
        None, description="The oldest point the branch can be branched at"
    )


class BranchCreated(ConnectionInfo, Branch):
    compute_id: str = Field(examples=["ep-new"], description="The new compute's endpoint id")
