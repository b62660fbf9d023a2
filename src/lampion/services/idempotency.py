"""Idempotency keys: the first response to a POST is kept (encrypted: it may hold a password)
for 24 h with the key, the caller, the route and a hash of the body."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from lampion.crypto import SecretBox
from lampion.errors import Conflict, IdempotencyKeyReused
from lampion.store.engine import Sessions
from lampion.store.models import IdempotencyKey
from lampion.store.types import utcnow

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status_code: int
    content_type: str | None
    body: bytes


def principal_of(presented_key: str) -> str:
    return hashlib.sha256(presented_key.encode()).hexdigest()


_ROUTE_LENGTH = 300  # the column's


def _storable(route: str) -> str:
    """The route as stored: itself, or its hash when longer than the column (a path with an
    over-long id is still a request that must be answered, not a server error)."""
    if len(route) <= _ROUTE_LENGTH:
        return route
    return f"sha256:{hashlib.sha256(route.encode()).hexdigest()}"


async def claim(
    sessions: Sessions, secrets: SecretBox, principal: str, key: str, route: str, body: bytes
) -> Replay | None:
    """None: this request goes ahead (and must :func:`complete` or :func:`release`).
    A Replay: the stored first response. Raises 409 while the first is in flight, 422 when
    the key came with another request."""
    body_hash = hashlib.sha256(body).hexdigest()
    route = _storable(route)
    for _ in range(2):
        try:
            async with sessions() as session, session.begin():
                session.add(
                    IdempotencyKey(
                        principal=principal,
                        key=key,
                        route=route,
                        body_hash=body_hash,
                        created_at=utcnow(),
                    )
                )
            return None
        except IntegrityError:
            async with sessions() as session, session.begin():
                row = await session.scalar(
                    select(IdempotencyKey).where(
                        IdempotencyKey.principal == principal, IdempotencyKey.key == key
                    )
                )
                if row is None:
                    continue
                if row.created_at < utcnow() - TTL:
                    await session.delete(row)
                    continue
                if row.route != route or row.body_hash != body_hash:
                    raise IdempotencyKeyReused(
                        "This Idempotency-Key was used with a different request",
                        details={"idempotency_key": key},
                    ) from None
                if row.status_code is None or row.response_enc is None:
                    raise Conflict(
                        "A request with this Idempotency-Key is still in progress"
                    ) from None
                return Replay(
                    row.status_code,
                    row.content_type,
                    secrets.decrypt(row.response_enc).encode(),
                )
    raise Conflict("A request with this Idempotency-Key is still in progress")


async def complete(
    sessions: Sessions,
    secrets: SecretBox,
    principal: str,
    key: str,
    status_code: int,
    content_type: str | None,
    body: bytes,
) -> None:
    async with sessions() as session, session.begin():
        row = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.principal == principal, IdempotencyKey.key == key
            )
        )
        if row is not None:
            row.status_code = status_code
            row.content_type = content_type
            row.response_enc = secrets.encrypt(body.decode(errors="replace"))


async def release(sessions: Sessions, principal: str, key: str) -> None:
    """Forgets the key (the request failed in a way worth retrying)."""
    async with sessions() as session, session.begin():
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.principal == principal, IdempotencyKey.key == key
            )
        )
