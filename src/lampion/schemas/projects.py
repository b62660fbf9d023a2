"""Projects, as in the API reference (seed 000)."""

from __future__ import annotations

from pydantic import Field

from lampion.schemas.common import Name, RequestModel, ResponseModel, Timestamp
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


class ProjectCreated(Project):
    branch_id: str = Field(examples=["br-abc123"])
    endpoint_id: str = Field(examples=["ep-abc"])
    connection_string: str = Field(
        examples=["postgresql://cloud_admin:YaQYfbg@127.0.0.1:55432/postgres?sslmode=require"]
    )
    pg_password: str = Field(examples=["YaQYfbg..."])
    host: str = Field(examples=["db-test.lampion.cloud"])
    port: int = Field(examples=[5432], description="The connection proxy's port")
    pg_port: int = Field(examples=[55436], description="The compute's own port (direct)")
