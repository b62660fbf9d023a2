"""The outbox: every event is written in the same transaction as the change it describes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.event_types import EventType
from lampion.store.models import Event
from lampion.store.types import utcnow


def emit(session: AsyncSession, org_id: str, type_: EventType, data: dict[str, Any]) -> Event:
    type_ = EventType(type_)  # a typo fails here, not in a subscriber
    now = utcnow()
    event_id = ids.event_id()
    event = Event(
        id=event_id,
        org_id=org_id,
        type=type_,
        created_at=now,
        payload={
            "id": event_id,
            "type": type_.value,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "org_id": org_id,
            "data": data,
        },
    )
    session.add(event)
    return event
