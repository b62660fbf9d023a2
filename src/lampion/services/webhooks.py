"""Org webhooks: who gets which events, with secrets stored encrypted (they must sign)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy import update as update_rows
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lampion import ids
from lampion.errors import InvalidRequest, NotFound
from lampion.event_types import ALL_EVENTS, EventType
from lampion.runtime import Runtime
from lampion.schemas.webhooks import (
    Attempt,
    Delivery,
    TestSent,
    WebhookCreate,
    WebhookCreated,
    WebhookUpdate,
)
from lampion.schemas.webhooks import (
    Webhook as WebhookOut,
)
from lampion.services import events
from lampion.services.auth import Principal
from lampion.states import DeliveryStatus
from lampion.store.models import Webhook, WebhookDelivery
from lampion.store.paging import Ordering, Page, Paging, page_of
from lampion.store.types import utcnow
from lampion.webhooks import signing
from lampion.webhooks.ssrf import AddressPolicy, Refused

RECENT_DELIVERIES = 100
_EVENT_NAMES = [event_type.value for event_type in EventType]


def policy(rt: Runtime) -> AddressPolicy:
    return AddressPolicy(rt.settings.webhook_allow_private, rt.settings.webhook_allowed_cidrs)


def _out(row: Webhook) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=list(row.events),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
    )


def _check_events(names: list[str]) -> list[str]:
    unknown = [n for n in names if n != ALL_EVENTS and n not in _EVENT_NAMES]
    if unknown:
        raise InvalidRequest(
            f"Unknown event types: {', '.join(unknown)}",
            details={"field": "events", "allowed_values": [ALL_EVENTS, *_EVENT_NAMES]},
        )
    return sorted(set(names))


async def _check_url(rt: Runtime, url: str) -> None:
    try:
        await policy(rt).check_creatable(url)
    except Refused as exc:
        raise InvalidRequest(f"Webhook URL refused: {exc}", details={"field": "url"}) from exc


async def _owned(session: AsyncSession, principal: Principal, webhook_id: str) -> Webhook:
    row = await session.scalar(
        select(Webhook).where(Webhook.id == webhook_id, Webhook.org_id == principal.org_id)
    )
    if row is None:
        raise NotFound(f"Webhook {webhook_id} not found")
    return row


ORDERING = Ordering(
    natural=(Webhook.created_at, Webhook.id),
    sortable={"created_at": Webhook.created_at, "url": Webhook.url},
)


async def list_webhooks(
    rt: Runtime, principal: Principal, paging: Paging, *, enabled: bool | None = None
) -> Page[WebhookOut]:
    query = select(Webhook).where(Webhook.org_id == principal.org_id)
    if enabled is not None:
        query = query.where(Webhook.enabled == enabled)
    async with rt.sessions() as session:
        page = await page_of(session, query, paging, ORDERING)
        return page.map(_out)


async def create(rt: Runtime, principal: Principal, body: WebhookCreate) -> WebhookCreated:
    chosen = _check_events(body.events)
    secret = body.secret or signing.new_secret()
    try:
        signing.check_secret(secret)
    except ValueError as exc:
        raise InvalidRequest(f"Invalid secret: {exc}", details={"field": "secret"}) from exc
    await _check_url(rt, body.url)
    row = Webhook(
        id=ids.webhook_id(),
        org_id=principal.org_id,
        url=body.url,
        events=chosen,
        secret_enc=rt.secrets.encrypt(secret),
        enabled=True,
        created_at=utcnow(),
    )
    async with rt.sessions() as session, session.begin():
        session.add(row)
    return WebhookCreated(**_out(row).model_dump(), secret=secret)


async def update(
    rt: Runtime, principal: Principal, webhook_id: str, body: WebhookUpdate
) -> WebhookOut:
    chosen = _check_events(body.events) if body.events is not None else None
    if body.url is not None:
        await _check_url(rt, body.url)
    async with rt.sessions() as session, session.begin():
        row = await _owned(session, principal, webhook_id)
        if body.url is not None:
            row.url = body.url
        if chosen is not None:
            row.events = chosen
        if body.enabled is not None:
            row.enabled = body.enabled
            if body.enabled:
                row.disabled_reason = None
        return _out(row)


async def delete(rt: Runtime, principal: Principal, webhook_id: str) -> None:
    async with rt.sessions() as session, session.begin():
        await session.delete(await _owned(session, principal, webhook_id))


def delivery_out(row: WebhookDelivery) -> Delivery:
    last = row.attempts[-1] if row.attempts else {}
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempt=row.attempt,
        status_code=last.get("status_code"),
        error=last.get("error"),
        duration_ms=last.get("duration_ms"),
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        created_at=row.created_at,
        attempts=[Attempt(**a) for a in row.attempts],
    )


DELIVERY_ORDERING = Ordering(
    natural=(WebhookDelivery.created_at, WebhookDelivery.id),
    sortable={
        "created_at": WebhookDelivery.created_at,
        "event_type": WebhookDelivery.event_type,
        "status": WebhookDelivery.status,
    },
    newest_first=True,
)


async def deliveries(
    rt: Runtime, principal: Principal, webhook_id: str, paging: Paging
) -> Page[Delivery]:
    """The webhook's ``RECENT_DELIVERIES`` most recent deliveries, newest first."""
    recent = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(RECENT_DELIVERIES)
    )
    query = select(WebhookDelivery).where(WebhookDelivery.id.in_(recent))
    async with rt.sessions() as session:
        await _owned(session, principal, webhook_id)
        page = await page_of(session, query, paging, DELIVERY_ORDERING)
        return page.map(delivery_out)


def new_delivery(
    webhook_id: str, payload: dict[str, object], created_at: datetime | None = None
) -> WebhookDelivery:
    """A pending delivery, due now; deliveries of one webhook go in ``created_at`` order."""
    now = created_at or utcnow()
    return WebhookDelivery(
        id=ids.delivery_id(),
        webhook_id=webhook_id,
        event_id=str(payload["id"]),
        event_type=EventType(str(payload["type"])),
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempt=0,
        next_attempt_at=now,
        attempts=[],
        created_at=now,
    )


@dataclass(frozen=True)
class Claimed:
    """Deliveries of one webhook leased to this worker, oldest first, with what sending them
    needs of the webhook."""

    webhook_id: str
    deliveries: list[WebhookDelivery]
    leased_until: datetime
    url: str
    secret_enc: str
    enabled: bool


def _due(now: datetime) -> ColumnElement[bool]:
    return (
        (WebhookDelivery.status == DeliveryStatus.PENDING)
        & (WebhookDelivery.next_attempt_at <= now)
        & (WebhookDelivery.leased_until.is_(None) | (WebhookDelivery.leased_until < now))
    )


async def webhooks_with_due_deliveries(
    session: AsyncSession, now: datetime, exclude: set[str], limit: int
) -> list[str]:
    """Up to ``limit`` webhooks (not in ``exclude``) with a due delivery nobody holds, the
    longest waiting first."""
    oldest = func.min(WebhookDelivery.created_at)
    rows = await session.execute(
        select(WebhookDelivery.webhook_id)
        .where(_due(now), WebhookDelivery.webhook_id.not_in(exclude))
        .group_by(WebhookDelivery.webhook_id)
        .order_by(oldest)
        .limit(limit)
    )
    return list(rows.scalars())


async def lock_webhook(session: AsyncSession, webhook_id: str, *, wait: bool) -> Webhook | None:
    """The webhook, its row locked until the transaction ends (claims for one webhook take
    turns); None if it is gone or, unless ``wait``, locked by another transaction. Lock the
    webhook before its deliveries, as every claim does."""
    hook: Webhook | None = await session.scalar(
        select(Webhook)
        .where(Webhook.id == webhook_id)
        .with_for_update(key_share=True, skip_locked=not wait)
    )
    return hook


async def claim_next(
    session: AsyncSession, hook: Webhook, now: datetime, lease: timedelta, limit: int
) -> Claimed | None:
    """Leases the oldest due deliveries (up to ``limit``) of a webhook locked with
    ``lock_webhook``, unless another of its deliveries is leased (being sent, here or by
    another replica): one sender at a time per webhook, in order. Due deliveries locked by
    another transaction are skipped, never waited for."""
    other = aliased(WebhookDelivery)
    held = (
        select(other.id)
        .where(
            other.webhook_id == hook.id,
            other.status == DeliveryStatus.PENDING,
            other.leased_until >= now,
        )
        .exists()
    )
    deliveries = list(
        (
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == hook.id, _due(now), ~held)
                .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    if not deliveries:
        return None
    leased_until = now + lease
    await session.execute(
        update_rows(WebhookDelivery)
        .where(WebhookDelivery.id.in_([d.id for d in deliveries]))
        .values(leased_until=leased_until)
        .execution_options(synchronize_session=False)
    )
    return Claimed(hook.id, deliveries, leased_until, hook.url, hook.secret_enc, hook.enabled)


async def next_retry_at(session: AsyncSession, now: datetime) -> datetime | None:
    """When the earliest retry scheduled after ``now`` falls due."""
    return await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at > now,
        )
    )


async def redeliver(
    rt: Runtime, principal: Principal, webhook_id: str, delivery_id: str
) -> Delivery:
    """The same event again (same webhook-id, so receivers can de-duplicate)."""
    async with rt.sessions() as session, session.begin():
        await _owned(session, principal, webhook_id)
        original = await session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook_id
            )
        )
        if original is None:
            raise NotFound(f"Delivery {delivery_id} not found")
        again = new_delivery(webhook_id, dict(original.payload))
        session.add(again)
    rt.webhooks_due.set()  # no event commits here to wake the worker
    return delivery_out(again)


async def send_test(rt: Runtime, principal: Principal, webhook_id: str) -> TestSent:
    async with rt.sessions() as session, session.begin():
        row = await _owned(session, principal, webhook_id)
        event = events.emit(
            session,
            principal.org_id,
            EventType.WEBHOOK_TEST,
            {"webhook_id": row.id, "url": row.url},
        )
        event.dispatched_at = utcnow()  # for this webhook only, not the org's others
        delivery = new_delivery(row.id, dict(event.payload))
        session.add(delivery)
    return TestSent(event_id=event.id, delivery_id=delivery.id, payload=event.payload)
