"""Branches (copy-on-write forks), as in the API reference (seed 000)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, Strict

from lampion.schemas.common import Name, RequestModel, ResponseModel, Timestamp
from lampion.schemas.connection import ConnectionInfo
from lampion.states import BranchState


def _rfc3339_text(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2030-01-01T00:00:00Z")
    return value


ExpiryTime = Annotated[
    Annotated[AwareDatetime, Strict(False)] | None,
    BeforeValidator(_rfc3339_text),
    Field(
        examples=["2030-01-01T00:00:00Z"],
        description="When the branch deletes itself (RFC 3339 with a zone, in the future)",
    ),
]


class BranchCreate(RequestModel):
    name: Name = Field(examples=["staging"])
    parent_id: str | None = Field(
        None,
        examples=["br-main123"],
        description="Parent branch id (or name); default the primary branch",
    )
    expires_at: ExpiryTime = None
    protected: bool = Field(False, description="Refuse delete, restore, reset and expiry")


class BranchUpdate(RequestModel):
    """Fields left out stay as they are; `expires_at: null` clears the expiry."""

    name: Name | None = Field(None, examples=["staging-2"])
    expires_at: ExpiryTime = None
    protected: bool | None = Field(None, examples=[True])


class SchemaDiff(ResponseModel):
    diff: str = Field(
        examples=["--- a/main\n+++ b/dev\n@@ -1 +1,2 @@\n"],
        description="Unified diff of the two schema-only dumps; empty when they are equal",
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
    expires_at: Timestamp | None = None
    protected: bool = False
    created_at: Timestamp


class BranchCreated(ConnectionInfo, Branch):
    compute_id: str = Field(examples=["ep-new"], description="The new compute's endpoint id")
