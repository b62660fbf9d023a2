"""Shared pieces of request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer


def _printable(value: str) -> str:
    if not value.isprintable() or not value.strip():
        raise ValueError("must be printable characters and not only spaces")
    return value


Name = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]

Timestamp = Annotated[
    datetime,
    PlainSerializer(
        lambda value: value.isoformat().replace("+00:00", "Z"), return_type=str, when_used="json"
    ),
]


class RequestModel(BaseModel):
    """Request bodies: no type coercion, no unknown fields (a typo is an error, not ignored)."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["Invalid instance type specified"])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorMetadata(BaseModel):
    request_id: str = Field(examples=["req_xyz789"])
    timestamp: Timestamp


class ErrorBody(BaseModel):
    success: bool = False
    error: ErrorDetail
    metadata: ErrorMetadata
