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


class BranchRestore(RequestModel):
    """What a branch's data becomes: another branch's present (``source_branch_id``) or, once
    history is kept, a point of a branch's history."""

    source_branch_id: str | None = Field(
        None, examples=["br-main123"], description="Branch (id or name) whose data to take"
    )
    source_timestamp: Timestamp | None = Field(None, description="A point in time (not yet)")
    source_lsn: str | None = Field(
        None, examples=["0/16B3748"], description="A WAL position (not yet)"
    )
    preserve_under_name: Name | None = Field(
        None,
        examples=["before-restore"],
        description="Keep the data as it was before the restore as a new branch of this name",
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
