"""Databases, roles and extensions inside a compute."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from lampion.schemas.common import RequestModel


def _pg_name(value: str) -> str:
    if not value or len(value.encode()) > 63:
        raise ValueError("must be 1 to 63 bytes")
    if "\x00" in value:
        raise ValueError("must not contain NUL")
    return value


PgName = Annotated[str, AfterValidator(_pg_name)]


class DatabaseCreate(RequestModel):
    name: PgName = Field(examples=["myapp"])
    owner: PgName | None = None


class Database(BaseModel):
    name: str = Field(examples=["postgres"])
    encoding: str | None = Field(None, examples=["UTF8"])
    size_bytes: int | None = Field(None, examples=[8945664])
    owner: str | None = None


class RoleCreate(RequestModel):
    name: PgName = Field(examples=["appuser"])
    password: str | None = Field(None, min_length=1, max_length=1024, examples=["secret"])
    can_login: bool = True


class Role(BaseModel):
    name: str = Field(examples=["cloud_admin"])
    is_superuser: bool | None = None
    can_login: bool
    can_create_db: bool | None = None


class RoleCreated(Role):
    password: str | None = Field(None, description="Generated when none was given; shown once")


class ExtensionCreate(RequestModel):
    name: PgName = Field(examples=["pgvector"])


class Extension(BaseModel):
    name: str = Field(examples=["plpgsql"])
    installed: bool
    version: str | None = None
    default_version: str | None = None
    comment: str | None = None


class LogTail(BaseModel):
    lines: list[str]
    count: int
