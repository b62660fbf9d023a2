"""Shared pieces of request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

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
