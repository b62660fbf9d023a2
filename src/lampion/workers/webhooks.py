"""At-least-once webhook delivery from the events outbox.

The worker wakes when events are committed (``runtime.webhooks_due``: set after the commit
in this process and, on a PostgreSQL store, by a LISTEN when another replica commits), when
its earliest scheduled retry falls due, and every ``webhook_interval`` seconds as a safety
net (a crashed replica's leases run out). Each pass (1) fans new outbox events out into one
delivery row per subscribed webhook; (2) starts a sender for each webhook with a due delivery
and no sender yet, up to ``webhook_concurrency`` at once.

A sender sends one webhook's deliveries one at a time, oldest first, each as soon as the
previous one is acknowledged. It claims (leases) up to ``_CLAIM`` due deliveries at once under
the webhook's row lock, and none while another of the webhook's deliveries is leased, so
several control planes on one PostgreSQL store deliver each attempt once and each webhook's
events in order; the transaction that records what it sent claims the next ones, and one
transaction records what every sender finished meanwhile. After a failed attempt the sender
pauses before the webhook's next delivery, so a failing receiver gets about one attempt a
second; a slow receiver delays only itself. A delivery is done only after a 2xx; a crash
leaves a lease that runs out, and it is sent again with the same webhook-id.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.event_types import ALL_EVENTS, EventType
from lampion.runtime import Runtime
from lampion.services import events
from lampion.services.webhooks import (
    Claimed,
    claim_next,
    lock_webhook,
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
_CLAIM = 20
"""Deliveries of one webhook claimed (leased) at once; sent one after another."""
_PAUSE_AFTER_FAILURE = 1.0
_GATHER = 0.01
"""Seconds a wake-up waits for more events, so that a stream of them takes fewer passes."""
_TURN = 200
"""Deliveries a sender makes in a row before it hands its slot back, so that with more
webhooks than ``webhook_concurrency`` the longest waiting go next."""


class WebhookWorker:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.client = httpx.AsyncClient(timeout=rt.settings.webhook_timeout, follow_redirects=False)
        self._senders: dict[str, asyncio.Task[None]] = {}  # webhook id -> its sender
        self._tasks: list[asyncio.Task[None]] = []
        self._finished: list[_Finished] = []  # what senders wait to have recorded
        self._recorder: asyncio.Task[None] | None = None
        self._lease = timedelta(seconds=rt.settings.webhook_timeout + 5)
        self._send_time = timedelta(seconds=rt.settings.webhook_timeout + 1)
        """What one attempt may take: none starts unless the lease outlasts it."""

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

    async def run_once(self) -> float:
        """One pass, in one transaction; returns the seconds until a retry falls due (or the
        safety-net interval)."""
        capacity = self.rt.settings.webhook_concurrency - len(self._senders)
        claims: list[Claimed] = []
        async with self.rt.sessions() as session, session.begin():
            if await self.fan_out(session) == _FAN_OUT_BATCH:
                self.rt.webhooks_due.set()  # more to fan out: another pass at once
            now = utcnow()
            if capacity > 0:
                waiting = await webhooks_with_due_deliveries(
                    session, now, set(self._senders), capacity
                )
                for webhook_id in waiting:
                    hook = await lock_webhook(session, webhook_id, wait=False)
                    claimed = (
                        await claim_next(session, hook, now, self._lease, _CLAIM) if hook else None
                    )
                    if claimed is not None:
                        claims.append(claimed)
            retry_at = await next_retry_at(session, now)
        for claimed in claims:
            self._senders[claimed.webhook_id] = asyncio.create_task(self._send_in_turn(claimed))
        safety_net = self.rt.settings.webhook_interval
        if retry_at is None:
            return safety_net
        return max(0.0, min(safety_net, (retry_at - utcnow()).total_seconds()))

    async def close(self) -> None:
        tasks = [*self._tasks, *self._senders.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._recorder is not None:  # what was sent gets recorded
            with contextlib.suppress(Exception):
                await self._recorder
        await self.client.aclose()

    async def _run(self) -> None:
        due = self.rt.webhooks_due
        while True:
            due.clear()  # what is committed from here on wakes the next pass
            try:
                wait = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down, say: try again a little later
                log.error("worker.failed", worker="webhooks", error=str(exc)[:300])
                await asyncio.sleep(_PAUSE_AFTER_FAILURE)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(due.wait(), wait)
                await asyncio.sleep(_GATHER)

    async def fan_out(self, session: AsyncSession) -> int:
        """Turns up to a batch of new events into deliveries; returns how many events."""
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
        for number, event in enumerate(batch):
            created_at = now + timedelta(microseconds=number)  # in the events' order
            for hook in hooks:
                if (
                    hook.org_id == event.org_id
                    and hook.created_at <= event.created_at
                    and (ALL_EVENTS in hook.events or event.type in hook.events)
                ):
                    session.add(new_delivery(hook.id, dict(event.payload), created_at))
            event.dispatched_at = now
        return len(batch)

    async def _claim(self, webhook_id: str) -> Claimed | None:
        async with self.rt.sessions() as session, session.begin():
            hook = await lock_webhook(session, webhook_id, wait=True)
            return await claim_next(session, hook, utcnow(), self._lease, _CLAIM) if hook else None

    async def _send_in_turn(self, claimed: Claimed) -> None:
        """Sends the webhook's due deliveries one after another, each as soon as the previous
        one is acknowledged, until none is due or its turn is over."""
        webhook_id = claimed.webhook_id
        current: Claimed | None = claimed
        sent = 0
        try:
            while current is not None:
                attempts, acknowledged = await self._deliver(current)
                sent += len(attempts)
                more = sent < _TURN
                current = await self._finish(current, attempts, then_claim=acknowledged and more)
                if not acknowledged and more:
                    await asyncio.sleep(_PAUSE_AFTER_FAILURE)
                    current = await self._claim(webhook_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # its leases run out, and a pass takes over
            log.error("webhook.sender_failed", webhook_id=webhook_id, error=str(exc)[:300])
        finally:
            self._senders.pop(webhook_id, None)
        # Another pass: a slot is free for whoever waits, and a delivery fanned out for this
        # webhook after its last claim (while passes skipped it, since it had a sender) is due.
        self.rt.webhooks_due.set()

    async def _deliver(self, claimed: Claimed) -> tuple[list[_Attempt], bool]:
        """Sends the claimed deliveries in order while the receiver acknowledges them and the
        lease leaves time for one more; returns the attempts made and whether every one was
        acknowledged (or given up: the webhook is disabled)."""
        attempts: list[_Attempt] = []
        try:
            secret = self.rt.secrets.decrypt(claimed.secret_enc)
            for delivery in claimed.deliveries:
                if not claimed.enabled:
                    attempts.append(_Attempt(delivery, None))
                    continue
                if utcnow() + self._send_time > claimed.leased_until:
                    break  # the rest are released, and claimed again at once
                outcome = await send(
                    self.client,
                    policy(self.rt),
                    claimed.url,
                    secret,
                    delivery.payload,
                    int(utcnow().timestamp()),
                )
                attempts.append(_Attempt(delivery, outcome))
                if not outcome.ok:
                    return attempts, False
            return attempts, True
        except asyncio.CancelledError:  # shutting down: record what was sent, send the rest later
            await asyncio.shield(self._finish(claimed, attempts, then_claim=False))
            raise
        except Exception as exc:
            log.error("webhook.delivery_crashed", webhook_id=claimed.webhook_id, error=str(exc))
            return attempts, False

    async def _finish(
        self, claimed: Claimed, attempts: list[_Attempt], then_claim: bool
    ) -> Claimed | None:
        """Records the attempts, releases the claimed deliveries not attempted, and if asked
        claims the webhook's next due deliveries. Queued: one transaction records what every
        sender finished meanwhile (a group commit), so ten busy webhooks do not take ten."""
        finished: asyncio.Future[Claimed | None] = asyncio.get_running_loop().create_future()
        self._finished.append(_Finished(claimed, attempts, then_claim, finished))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_finished())
        return await finished

    async def _record_finished(self) -> None:
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                results = await self._record(batch)
            except Exception as exc:
                for item in batch:
                    if not item.result.done():
                        item.result.set_exception(exc)
                continue
            for item, following in zip(batch, results, strict=True):
                if not item.result.done():
                    item.result.set_result(following)

    async def _record(self, batch: list[_Finished]) -> list[Claimed | None]:
        now = utcnow()
        following: dict[str, Claimed | None] = {}
        async with self.rt.sessions() as session, session.begin():
            for item in sorted(batch, key=lambda i: i.claimed.webhook_id):  # lock order
                following[item.claimed.webhook_id] = await self._record_one(session, item, now)
        for item in batch:
            for attempt in item.attempts:
                if attempt.outcome is not None:
                    log.info(
                        "webhook.attempt",
                        delivery_id=attempt.delivery.id,
                        status_code=attempt.outcome.status_code,
                        result=attempt.result,
                    )
        return [following[item.claimed.webhook_id] for item in batch]

    async def _record_one(
        self, session: AsyncSession, item: _Finished, now: datetime
    ) -> Claimed | None:
        schedule = self.rt.settings.webhook_retry_schedule
        claimed, attempts = item.claimed, item.attempts
        recorded: list[dict[str, Any]] = []
        hook = await lock_webhook(session, claimed.webhook_id, wait=True)
        if hook is None:
            return None  # deleted, with its deliveries
        for attempt in attempts:
            row = attempt.delivery
            if attempt.outcome is None:
                recorded.append(
                    _row(row, DeliveryStatus.FAILED, row.attempt, row.next_attempt_at)
                    | {"attempts": [*row.attempts, _entry(row.attempt, None, now)]}
                )
                continue
            outcome = attempt.outcome
            number = row.attempt + 1
            next_attempt_at = row.next_attempt_at
            self.rt.telemetry.webhook_deliveries.labels(attempt.result).inc()
            if outcome.ok:
                status = DeliveryStatus.SUCCEEDED
            elif outcome.status_code == 410:
                status = DeliveryStatus.FAILED
                _disable(session, hook, "the receiver answered 410 Gone")
            elif number > len(schedule):
                status = DeliveryStatus.FAILED
                _disable(session, hook, f"{number} delivery attempts failed in a row")
            else:
                status = DeliveryStatus.PENDING
                delay = schedule[number - 1] * random.uniform(0.8, 1.2)  # noqa: S311
                if outcome.retry_after is not None:
                    delay = max(delay, outcome.retry_after)
                next_attempt_at = now + timedelta(seconds=delay)
            recorded.append(
                _row(row, status, number, next_attempt_at)
                | {"attempts": [*row.attempts[-19:], _entry(number, outcome, now)]}
            )
        if recorded:
            await session.execute(update(WebhookDelivery), recorded)
        unsent = [d.id for d in claimed.deliveries[len(attempts) :]]
        if unsent:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(unsent))
                .values(leased_until=None)
                .execution_options(synchronize_session=False)
            )
        if not item.then_claim:
            return None
        return await claim_next(session, hook, now, self._lease, _CLAIM)


@dataclass(frozen=True)
class _Finished:
    claimed: Claimed
    attempts: list[_Attempt]
    then_claim: bool
    result: asyncio.Future[Claimed | None]


@dataclass(frozen=True)
class _Attempt:
    delivery: WebhookDelivery
    outcome: Outcome | None
    """None: not sent, given up (the webhook is disabled)."""

    @property
    def result(self) -> str:
        return "succeeded" if self.outcome is not None and self.outcome.ok else "failed"


def _row(
    row: WebhookDelivery, status: DeliveryStatus, attempt: int, next_attempt_at: datetime | None
) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": status,
        "attempt": attempt,
        "next_attempt_at": next_attempt_at,
        "leased_until": None,
    }


def _entry(number: int, outcome: Outcome | None, at: datetime) -> dict[str, object]:
    if outcome is None:
        return _attempt(number, None, "the webhook is disabled", 0.0, at)
    return _attempt(number, outcome.status_code, outcome.error, outcome.duration_ms, at)


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
