"""At-least-once webhook delivery from the events outbox.

Each pass: (1) fans new outbox events out into one delivery row per subscribed webhook;
(2) claims due deliveries under a lease (SKIP LOCKED on PostgreSQL, so several control planes
deliver each attempt once) and sends them in the background — at most one in flight per
webhook, so its events go in order when possible and a slow receiver delays only itself.
A delivery is done only after a 2xx; a crash leaves a lease that runs out, and it is sent
again with the same webhook-id.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.event_types import ALL_EVENTS, EventType
from lampion.runtime import Runtime
from lampion.services import events
from lampion.services.webhooks import new_delivery, policy
from lampion.states import DeliveryStatus
from lampion.store.models import Event, Webhook, WebhookDelivery
from lampion.store.types import utcnow
from lampion.webhooks.sender import Outcome, send

log = structlog.get_logger(__name__)

_FAN_OUT_BATCH = 500


class WebhookWorker:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.client = httpx.AsyncClient(timeout=rt.settings.webhook_timeout, follow_redirects=False)
        self._inflight: dict[str, asyncio.Task[None]] = {}  # webhook id -> its delivery

    async def run_once(self) -> None:
        await self.fan_out()
        await self.claim_and_send()

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.aclose()

    async def fan_out(self) -> None:
        async with self.rt.sessions() as session, session.begin():
            batch = (
                await session.scalars(
                    select(Event)
                    .where(Event.dispatched_at.is_(None))
                    .order_by(Event.created_at, Event.id)
                    .limit(_FAN_OUT_BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not batch:
                return
            hooks = (
                await session.scalars(
                    select(Webhook).where(
                        Webhook.org_id.in_({e.org_id for e in batch}), Webhook.enabled.is_(True)
                    )
                )
            ).all()
            now = utcnow()
            for event in batch:
                for hook in hooks:
                    if (
                        hook.org_id == event.org_id
                        and hook.created_at <= event.created_at
                        and (ALL_EVENTS in hook.events or event.type in hook.events)
                    ):
                        session.add(new_delivery(hook.id, dict(event.payload)))
                event.dispatched_at = now

    async def claim_and_send(self) -> None:
        capacity = self.rt.settings.webhook_concurrency - len(self._inflight)
        if capacity <= 0:
            return
        now = utcnow()
        lease = timedelta(seconds=self.rt.settings.webhook_timeout + 5)
        claimed: list[WebhookDelivery] = []
        async with self.rt.sessions() as session, session.begin():
            due = (
                await session.scalars(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status == DeliveryStatus.PENDING,
                        WebhookDelivery.next_attempt_at <= now,
                        (WebhookDelivery.leased_until.is_(None))
                        | (WebhookDelivery.leased_until < now),
                    )
                    .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
                    .limit(capacity * 4)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for delivery in due:
                if delivery.webhook_id in self._inflight or any(
                    c.webhook_id == delivery.webhook_id for c in claimed
                ):
                    continue  # one at a time per webhook: its events stay in order
                delivery.leased_until = now + lease
                claimed.append(delivery)
                if len(claimed) >= capacity:
                    break
        for delivery in claimed:
            self._inflight[delivery.webhook_id] = asyncio.create_task(self._deliver(delivery))

    async def _deliver(self, delivery: WebhookDelivery) -> None:
        try:
            async with self.rt.sessions() as session:
                hook = await session.get(Webhook, delivery.webhook_id)
            if hook is None or not hook.enabled:
                await self._finish(delivery.id, None, "the webhook is disabled")
                return
            outcome = await send(
                self.client,
                policy(self.rt),
                hook.url,
                self.rt.secrets.decrypt(hook.secret_enc),
                delivery.payload,
                int(utcnow().timestamp()),
            )
            await self._finish(delivery.id, outcome, None)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(delivery.id))  # shutting down: send it later
            raise
        except Exception as exc:
            log.error("webhook.delivery_crashed", delivery_id=delivery.id, error=str(exc))
            await self._release(delivery.id)
        finally:
            self._inflight.pop(delivery.webhook_id, None)

    async def _release(self, delivery_id: str) -> None:
        async with self.rt.sessions() as session, session.begin():
            row = await session.get(WebhookDelivery, delivery_id)
            if row is not None:
                row.leased_until = None

    async def _finish(self, delivery_id: str, outcome: Outcome | None, gave_up: str | None) -> None:
        schedule = self.rt.settings.webhook_retry_schedule
        now = utcnow()
        async with self.rt.sessions() as session, session.begin():
            row = await session.get(WebhookDelivery, delivery_id)
            hook = await session.get(Webhook, row.webhook_id) if row is not None else None
            if row is None or hook is None:
                return
            row.leased_until = None
            if outcome is None:
                row.status = DeliveryStatus.FAILED
                row.attempts = [*row.attempts, _attempt(row.attempt, None, gave_up, 0.0, now)]
                return
            row.attempt += 1
            row.attempts = [
                *row.attempts[-19:],
                _attempt(row.attempt, outcome.status_code, outcome.error, outcome.duration_ms, now),
            ]
            result = "succeeded" if outcome.ok else "failed"
            self.rt.telemetry.webhook_deliveries.labels(result).inc()
            if outcome.ok:
                row.status = DeliveryStatus.SUCCEEDED
            elif outcome.status_code == 410:
                row.status = DeliveryStatus.FAILED
                _disable(session, hook, "the receiver answered 410 Gone")
            elif row.attempt > len(schedule):
                row.status = DeliveryStatus.FAILED
                _disable(session, hook, f"{row.attempt} delivery attempts failed in a row")
            else:
                delay = schedule[row.attempt - 1] * random.uniform(0.8, 1.2)  # noqa: S311
                if outcome.retry_after is not None:
                    delay = max(delay, outcome.retry_after)
                row.next_attempt_at = now + timedelta(seconds=delay)
        log.info(
            "webhook.attempt",
            delivery_id=delivery_id,
            status_code=outcome.status_code if outcome else None,
            result="succeeded" if outcome and outcome.ok else "failed",
        )


def _attempt(
    number: int, status_code: int | None, error: str | None, duration_ms: float, at: object
) -> dict[str, object]:
    return {
        "attempt": number,
        "at": str(at),
        "status_code": status_code,
        "error": error,
        "duration_ms": duration_ms,
    }


def _disable(session: AsyncSession, hook: Webhook, reason: str) -> None:
    """Disables a webhook and tells the org's other webhooks (webhook.disabled)."""
    if not hook.enabled:
        return
    hook.enabled = False
    hook.disabled_reason = reason
    log.warning("webhook.disabled", webhook_id=hook.id, reason=reason)
    events.emit(
        session,
        hook.org_id,
        EventType.WEBHOOK_DISABLED,
        {"id": hook.id, "url": hook.url, "reason": reason},
    )
