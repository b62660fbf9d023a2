"""API keys: shown once, stored as a SHA-256 hash, revoked at once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.crypto import hash_api_key
from lampion.errors import InvalidRequest, NotFound
from lampion.event_types import EventType
from lampion.services import events
from lampion.services.auth import PERMISSIONS
from lampion.store.engine import Sessions
from lampion.store.models import ApiKey
from lampion.store.paging import Ordering, Page, Paging, page_of
from lampion.store.types import utcnow


def key_summary(key: ApiKey) -> dict[str, object]:
    return {"id": key.id, "name": key.name, "permission": key.permission}


async def create_in(
    session: AsyncSession, org_id: str, name: str, permission: str
) -> tuple[ApiKey, str]:
    if permission not in PERMISSIONS:
        raise InvalidRequest(
            f"Unknown permission {permission!r}",
            details={"field": "permission", "allowed_values": list(PERMISSIONS)},
        )
    plaintext = ids.api_key()
    key = ApiKey(
        id=ids.api_key_id(),
        org_id=org_id,
        name=name,
        lookup=ids.api_key_lookup(plaintext),
        key_hash=hash_api_key(plaintext),
        permission=permission,
        created_at=utcnow(),
    )
    session.add(key)
    events.emit(session, org_id, EventType.API_KEY_CREATED, key_summary(key))
    await session.flush()
    return key, plaintext


async def create(sessions: Sessions, org_id: str, name: str, permission: str) -> tuple[ApiKey, str]:
    async with sessions() as session, session.begin():
        return await create_in(session, org_id, name, permission)


ORDERING = Ordering(
    natural=(ApiKey.created_at, ApiKey.id),
    sortable={
        "name": ApiKey.name,
        "permission": ApiKey.permission,
        "created_at": ApiKey.created_at,
    },
)


async def list_keys(sessions: Sessions, org_id: str, paging: Paging) -> Page[ApiKey]:
    """The org's keys that are not revoked."""
    query = select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None))
    async with sessions() as session:
        return await page_of(session, query, paging, ORDERING)


async def get(sessions: Sessions, org_id: str, key_id: str) -> ApiKey:
    async with sessions() as session:
        key = await session.scalar(
            select(ApiKey).where(
                ApiKey.id == key_id, ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None)
            )
        )
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


async def revoke(sessions: Sessions, org_id: str, key_id: str) -> None:
    async with sessions() as session, session.begin():
        key = await session.scalar(
            select(ApiKey).where(
                ApiKey.id == key_id, ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None)
            )
        )
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        revoke_in(session, key)


def revoke_in(session: AsyncSession, key: ApiKey) -> None:
    key.revoked_at = utcnow()
    events.emit(session, key.org_id, EventType.API_KEY_REVOKED, key_summary(key))
