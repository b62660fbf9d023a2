"""At-least-once webhook delivery from the events outbox.

The worker wakes when events are committed (``runtime.webhooks_due``: set after the commit
in this process and, on a PostgreSQL store, by a LISTEN when another replica commits), when
its earliest scheduled retry falls due, and every ``webhook_interval`` seconds as a safety
net (a crashed replica's leases run out). Each pass (1) fans new outbox events out into one
delivery row per subscribed webhook; (2) starts a sender for each webhook with a due delivery
and no sender yet, up to ``webhook_concurrency`` at once.

A sender sends one webhook's deliveries one at a time, oldest first, and claims the next in
the transaction that records a 2xx, so they go back to back. A claim leases the delivery
under the webhook's row lock and is refused while another of its deliveries is leased, so
several control planes on one PostgreSQL store deliver each attempt once and each webhook's
events in order. After a failed attempt the sender pauses before the next one, so a failing
receiver gets about one attempt a second; a slow receiver delays only itself. A delivery is
done only after a 2xx; a crash leaves a lease that runs out, and it is sent again with the
same webhook-id.
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
from lampion.services.webhooks import (
    Claimed,
    claim_next,
    new_delivery,
    next_retry_at,
    policy,
    webhooks_with_due_deliveries,
)
from lampion.states import DeliveryStatus
from lampion.store import notify
from lampion.store.models import Event, Webhook, WebhookDelivery
from lampion.store.types import utcnow
from lampion.webhooks.sender import Outcome, send

log = structlog.get_logger(__name__)

_FAN_OUT_BATCH = 500
_PAUSE_AFTER_FAILURE = 1.0
_TURN = 100
"""Deliveries a sender makes in a row before it hands its slot back, so that with more
webhooks than ``webhook_concurrency`` the longest waiting go next."""


class WebhookWorker:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.client = httpx.AsyncClient(timeout=rt.settings.webhook_timeout, follow_redirects=False)
        self._senders: dict[str, asyncio.Task[None]] = {}  # webhook id -> its sender
        self._tasks: list[asyncio.Task[None]] = []
        self._lease = timedelta(seconds=rt.settings.webhook_timeout + 5)

    def start(self) -> None:
        """Runs passes until ``close`` (none when ``webhook_interval`` is 0: delivery off)."""
        if self.rt.settings.webhook_interval <= 0:
            return
        self._tasks.append(asyncio.create_task(self._run(), name="webhooks"))
        if notify.supported(self.rt.engine):
            listener = notify.listen(
                self.rt.engine, notify.EVENTS_CHANNEL, self.rt.webhooks_due.set
            )
            self._tasks.append(asyncio.create_task(listener, name="webhooks-listen"))

    async def run_once(self) -> None:
        while await self.fan_out() == _FAN_OUT_BATCH:
            pass
        await self.claim_and_send()

    async def close(self) -> None:
        tasks = [*self._tasks, *self._senders.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.client.aclose()

    async def _run(self) -> None:
        due = self.rt.webhooks_due
        safety_net = self.rt.settings.webhook_interval
        while True:
            due.clear()  # what is committed from here on wakes the next pass
            try:
                await self.run_once()
                wait = await self._until_next_retry(safety_net)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down, say: try again a little later
                log.error("worker.failed", worker="webhooks", error=str(exc)[:300])
                await asyncio.sleep(min(safety_net, _PAUSE_AFTER_FAILURE))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(due.wait(), wait)

    async def _until_next_retry(self, longest: float) -> float:
        now = utcnow()
        async with self.rt.sessions() as session:
            at = await next_retry_at(session, now)
        if at is None:
            return longest
        return max(0.0, min(longest, (at - now).total_seconds()))

    async def fan_out(self) -> int:
        """Turns up to a batch of new events into deliveries; returns how many events."""
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
                return 0
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
            return len(batch)

    async def claim_and_send(self) -> None:
        capacity = self.rt.settings.webhook_concurrency - len(self._senders)
        if capacity <= 0:
            return
        async with self.rt.sessions() as session:
            waiting = await webhooks_with_due_deliveries(
                session, utcnow(), set(self._senders), capacity
            )
        for webhook_id in waiting:
            claimed = await self._claim(webhook_id)
            if claimed is not None:
                self._senders[webhook_id] = asyncio.create_task(self._send_in_turn(claimed))

    async def _claim(self, webhook_id: str) -> Claimed | None:
        async with self.rt.sessions() as session, session.begin():
            return await claim_next(session, webhook_id, utcnow(), self._lease)

    async def _send_in_turn(self, claimed: Claimed) -> None:
        """Sends the webhook's due deliveries one after another, the next as soon as the
        previous one is settled, until none is due or its turn is over."""
        webhook_id = claimed.delivery.webhook_id
        current: Claimed | None = claimed
        sent = 0
        try:
            while current is not None:
                sent += 1
                settled, current = await self._deliver(current, then_claim=sent < _TURN)
                if not settled and sent < _TURN:
                    await asyncio.sleep(_PAUSE_AFTER_FAILURE)
                    current = await self._claim(webhook_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next pass takes over
            log.error("webhook.sender_failed", webhook_id=webhook_id, error=str(exc)[:300])
        finally:
            crowded = len(self._senders) >= self.rt.settings.webhook_concurrency
            self._senders.pop(webhook_id, None)
        if crowded or sent >= _TURN:
            self.rt.webhooks_due.set()  # a slot is free: a pass picks who goes next

    async def _deliver(self, claimed: Claimed, then_claim: bool) -> tuple[bool, Claimed | None]:
        """Sends one delivery and records the outcome; returns whether it is settled (a 2xx,
        or given up) and, if asked and settled, the webhook's next due delivery, claimed."""
        delivery = claimed.delivery
        try:
            if not claimed.enabled:
                return True, await self._finish(
                    delivery.id, None, "the webhook is disabled", then_claim
                )
            outcome = await send(
                self.client,
                policy(self.rt),
                claimed.url,
                self.rt.secrets.decrypt(claimed.secret_enc),
                delivery.payload,
                int(utcnow().timestamp()),
            )
            return outcome.ok, await self._finish(
                delivery.id, outcome, None, then_claim and outcome.ok
            )
        except asyncio.CancelledError:
            await asyncio.shield(self._release(delivery.id))  # shutting down: send it later
            raise
        except Exception as exc:
            log.error("webhook.delivery_crashed", delivery_id=delivery.id, error=str(exc))
            await self._release(delivery.id)
            return False, None

    async def _release(self, delivery_id: str) -> None:
        async with self.rt.sessions() as session, session.begin():
            row = await session.get(WebhookDelivery, delivery_id)
            if row is not None:
                row.leased_until = None

    async def _finish(
        self, delivery_id: str, outcome: Outcome | None, gave_up: str | None, then_claim: bool
    ) -> Claimed | None:
        schedule = self.rt.settings.webhook_retry_schedule
        now = utcnow()
        async with self.rt.sessions() as session, session.begin():
            row = await session.get(WebhookDelivery, delivery_id)
            hook = await session.get(Webhook, row.webhook_id) if row is not None else None
            if row is None or hook is None:
                return None
            row.leased_until = None
            if outcome is None:
                row.status = DeliveryStatus.FAILED
                row.attempts = [*row.attempts, _attempt(row.attempt, None, gave_up, 0.0, now)]
                return await claim_next(session, hook.id, now, self._lease) if then_claim else None
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
            following = await claim_next(session, hook.id, now, self._lease) if then_claim else None
        log.info(
            "webhook.attempt",
            delivery_id=delivery_id,
            status_code=outcome.status_code,
            result=result,
        )
        return following


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
