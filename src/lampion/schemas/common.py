"""Shared pieces of request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
"""No control characters, and not only spaces (a rule the OpenAPI document can state)."""

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]

Timestamp = Annotated[
    datetime,
    PlainSerializer(
        lambda value: value.isoformat().replace("+00:00", "Z"), return_type=str, when_used="json"
    ),
]


class RequestModel(BaseModel):
    """Request bodies: no type coercion, no unknown fields (a typo is an error, not ignored),
    no NUL character in any string (no store or compute can keep one: a 400 naming the field,
    never a failure deeper down)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _holds_nul(value):
            raise ValueError("must not contain a NUL character")
        return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False


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
