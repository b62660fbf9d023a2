"""The outbox: every event is written in the same transaction as the change it describes.

A transaction that emitted events also tells the webhook worker when it commits: on a
PostgreSQL store it sends `NOTIFY lampion_events` (delivered to every replica on commit, never
on rollback), and after the commit it calls the callback given to ``signal_commits`` (this
process's own worker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from lampion import ids
from lampion.event_types import EventType
from lampion.store import notify
from lampion.store.engine import Sessions
from lampion.store.models import Event
from lampion.store.types import utcnow

_EMITTED = "lampion.events_emitted"
_ON_COMMIT = "lampion.on_events_committed"


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
    session.info[_EMITTED] = True
    return event


def signal_commits(sessions: Sessions, callback: Callable[[], None]) -> None:
    """Calls ``callback`` after each commit, in a session of ``sessions``, of events."""
    sessions.configure(info={_ON_COMMIT: callback})


@orm_event.listens_for(Session, "before_commit")
def _notify_replicas(session: Session) -> None:
    if session.info.get(_EMITTED):
        notify.notify(session.connection(), notify.EVENTS_CHANNEL)


@orm_event.listens_for(Session, "after_commit")
def _signal_this_process(session: Session) -> None:
    if session.info.pop(_EMITTED, False):
        callback = session.info.get(_ON_COMMIT)
        if callback is not None:
            callback()


@orm_event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_EMITTED, None)
