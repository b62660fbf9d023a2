"""API keys."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lampion.schemas.common import Name, RequestModel, ResponseModel, Timestamp

Permission = Literal["admin", "developer", "read_only"]


class ApiKeyCreate(RequestModel):
    name: Name = Field("api-key", examples=["ci"])
    permission: Permission = "developer"


class ApiKey(ResponseModel):
    id: str = Field(examples=["key-abc123"])
    name: str
    permission: Permission
    prefix: str = Field(examples=["lmp_live_ab12cd34"], description="Leading characters")
    created_at: Timestamp
    last_used_at: Timestamp | None = None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself; shown only in this response")
