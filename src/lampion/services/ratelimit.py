"""Rate limits from the org's plan: a token bucket per API key and one per org (three times
the key's), held in the metadata store and updated by one atomic statement per request, so
several replicas on a PostgreSQL store share them.

When the store cannot record a read (GET, HEAD, OPTIONS) — its filesystem is full, it is
locked — the read fails open: it is served, uncounted and without rate headers, so reads
keep working while writes are refused. A write that cannot be counted fails as any write
would (507 when storage is full, 503 when the store is unavailable)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lampion.errors import RETRY_AFTER as RETRY_AFTER
from lampion.errors import RateLimitExceeded
from lampion.services import plans
from lampion.services.auth import Principal
from lampion.store.engine import Sessions

ORG_FACTOR = 3

LIMIT, REMAINING, RESET = "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"
log = structlog.get_logger(__name__)

HEADERS = {
    LIMIT: "Requests per hour of this key's plan",
    REMAINING: "Requests left in the bucket",
    RESET: "Unix time when the bucket is full again",
}
"""Sent with every rate-limited answer; a 429 adds `Retry-After` (seconds to wait)."""

_BURST = "CAST(:burst AS DOUBLE PRECISION)"
_REFILLED = (
    "rate_buckets.tokens + CAST(:rate AS DOUBLE PRECISION) "
    "* (CAST(:now AS DOUBLE PRECISION) - rate_buckets.updated_at)"
)
_AVAILABLE = f"(CASE WHEN {_REFILLED} > {_BURST} THEN {_BURST} ELSE {_REFILLED} END)"
_CONSUME = text(
    f"""
    INSERT INTO rate_buckets (key, tokens, updated_at, allowed)
    VALUES (:key, {_BURST} - 1, CAST(:now AS DOUBLE PRECISION), true)
    ON CONFLICT (key) DO UPDATE SET
        tokens = CASE WHEN {_AVAILABLE} >= 1 THEN {_AVAILABLE} - 1 ELSE {_AVAILABLE} END,
        allowed = {_AVAILABLE} >= 1,
        updated_at = CAST(:now AS DOUBLE PRECISION)
    RETURNING tokens, allowed
    """  # noqa: S608 - no user input: fixed expressions and bound parameters
)


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_at: int

    def headers(self) -> dict[str, str]:
        return {
            LIMIT: str(self.limit),
            REMAINING: str(self.remaining),
            RESET: str(self.reset_at),
        }


async def consume(
    sessions: Sessions, principal: Principal, *, read_only: bool = False
) -> RateState | None:
    """Takes a token from the key's and the org's buckets, or raises 429. None: a read the
    store could not record, served uncounted (see the module's docstring)."""
    try:
        return await _consume(sessions, principal)
    except (SQLAlchemyError, OSError) as exc:
        if not read_only:
            raise
        log.warning("ratelimit.unrecorded", key_id=principal.key_id, error=str(exc)[:200])
        return None


async def _consume(sessions: Sessions, principal: Principal) -> RateState:
    now = time.time()
    async with sessions() as session, session.begin():
        plan = await plans.plan_of(session, principal.org_id)
        per_hour, burst = plan.api_requests_per_hour, plan.api_burst
        rate = per_hour / 3600
        results = []
        for key, factor in (
            (f"key:{principal.key_id}", 1),
            (f"org:{principal.org_id}", ORG_FACTOR),
        ):
            row = (
                await session.execute(
                    _CONSUME,
                    {"key": key, "burst": burst * factor, "rate": rate * factor, "now": now},
                )
            ).one()
            results.append((float(row.tokens), bool(row.allowed), rate * factor, burst * factor))
    tokens, _, key_rate, key_burst = results[0]
    state = RateState(
        limit=per_hour,
        remaining=max(0, math.floor(tokens)),
        reset_at=math.ceil(now + (key_burst - tokens) / key_rate),
    )
    denied = [r for r in results if not r[1]]
    if denied:
        wait = max(math.ceil((1 - r[0]) / r[2]) for r in denied)
        raise RateLimitExceeded(
            f"Rate limit exceeded. Retry after {wait} seconds.",
            details={"retry_after": wait},
            headers={**state.headers(), RETRY_AFTER: str(wait)},
        )
    return state
