"""Org webhooks, as in the API reference (seed 000)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lampion.event_types import EventType
from lampion.schemas.common import RequestModel, Timestamp
from lampion.states import DeliveryStatus


class WebhookCreate(RequestModel):
    url: str = Field(min_length=8, max_length=2048, examples=["https://hook.example.com"])
    events: list[str] = Field(min_length=1, max_length=64, examples=[["project.created"]])
    secret: str | None = Field(
        None, description="whsec_ + base64 of 24 to 64 random bytes; generated when absent"
    )


class WebhookUpdate(RequestModel):
    url: str | None = Field(None, min_length=8, max_length=2048)
    events: list[str] | None = Field(None, min_length=1, max_length=64)
    enabled: bool | None = None


class Webhook(BaseModel):
    id: str = Field(examples=["wh-abc"])
    url: str
    events: list[str] = Field(examples=[["*"]])
    enabled: bool
    disabled_reason: str | None = None
    created_at: Timestamp


class WebhookCreated(Webhook):
    secret: str = Field(description="Shown only here")


class Attempt(BaseModel):
    attempt: int
    at: str
    status_code: int | None
    error: str | None
    duration_ms: float


class Delivery(BaseModel):
    id: str = Field(examples=["dlv_abc"])
    event_id: str
    event_type: EventType
    status: DeliveryStatus
    attempt: int
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp
    attempts: list[Attempt] = Field(default_factory=list)


class TestSent(BaseModel):
    event_id: str
    delivery_id: str
    payload: dict[str, Any]
