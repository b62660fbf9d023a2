"""Branches (copy-on-write forks), as in the API reference (seed 000)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field, Strict, model_validator

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
    """What a branch's data becomes: another branch's present (``source_branch_id``), or a
    point (``source_timestamp`` / ``source_lsn``) of its own history or another branch's."""

    source_branch_id: str | None = Field(
        None, examples=["br-main123"], description="Branch (id or name) whose data to take"
    )
    source_timestamp: AwareDatetime | None = Field(
        None,
        strict=False,
        examples=["2026-11-23T09:41:00Z"],
        description="A point in time (RFC 3339) of the source's history (default source: the "
        "branch itself)",
    )
    source_lsn: str | None = Field(
        None,
        pattern=r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$",
        examples=["0/16B3748"],
        description="A WAL position of the source's history (default source: the branch itself)",
    )

    @model_validator(mode="after")
    def _one_point(self) -> BranchRestore:
        if self.source_timestamp is not None and self.source_lsn is not None:
            raise ValueError("give source_timestamp or source_lsn, not both")
        return self

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
    parent_lsn: str | None = Field(None, examples=["0/16B3748"])
    parent_timestamp: Timestamp | None = None
    earliest_restore_time: Timestamp | None = Field(
        None, description="The oldest point the branch can be branched at"
    )
    logical_size_bytes: int | None = Field(
        None,
        examples=[7_654_321],
        description="Its databases' size (sum of pg_database_size) when the sampler last saw "
        "its compute run; null until then",
    )
    history_bytes: int | None = Field(
        None,
        examples=[50_331_648],
        description="Its history on disk (archived WAL and base), as the sampler last measured "
        "it; null until then",
    )
    history_status: Literal["ok", "failing"] = Field(
        "ok",
        description="`failing` while its compute cannot archive WAL (e.g. a full disk): points "
        "after the last archived segment cannot be restored until it recovers",
    )
    archive_failed_at: Timestamp | None = Field(
        None, description="While failing: when archiving last failed"
    )
    archive_failed_wal: str | None = Field(
        None,
        examples=["000000010000000000000007"],
        description="While failing: the WAL segment that could not be archived",
    )


class BranchCreated(ConnectionInfo, Branch):
    compute_id: str = Field(examples=["ep-new"], description="The new compute's endpoint id")
