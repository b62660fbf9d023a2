"""Projects, as in the API reference (seed 000)."""

from __future__ import annotations

from pydantic import Field

from lampion.schemas.common import Name, RequestModel, ResponseModel, Timestamp
from lampion.schemas.connection import ConnectionInfo
from lampion.states import ProjectState


class ProjectCreate(RequestModel):
    name: Name = Field(examples=["my-app"])
    region: str | None = Field(None, examples=["fr-par-1"], description="Default: first region")
    pg_version: int | None = Field(
        None, examples=[16], description="PostgreSQL major version; default the newest available"
    )


class Project(ResponseModel):
    id: str = Field(examples=["prj-abc123"])
    name: str = Field(examples=["my-app"])
    region: str = Field(examples=["fr-par-1"])
    pg_version: int = Field(examples=[16])
    state: ProjectState = Field(examples=["active"])
    created_at: Timestamp


class ProjectCreated(ConnectionInfo, Project):
    branch_id: str = Field(examples=["br-abc123"])
    endpoint_id: str = Field(examples=["ep-abc"])
