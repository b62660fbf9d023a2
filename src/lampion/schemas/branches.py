"""Branches (copy-on-write forks), as in the API reference (seed 000)."""

from __future__ import annotations

from pydantic import Field

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


class Branch(ResponseModel):
    id: str = Field(examples=["br-abc"])
    project_id: str
    name: str = Field(examples=["main"])
    is_primary: bool
    parent_id: str | None = None
    state: BranchState = Field(examples=["ready"])
    endpoint_id: str | None = Field(None, examples=["ep-abc"])
    created_at: Timestamp


class BranchCreated(ConnectionInfo, Branch):
    compute_id: str = Field(examples=["ep-new"], description="The new compute's endpoint id")
