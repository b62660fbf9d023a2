"""Console sign-in: a browser session holds an API key (encrypted at rest) that the console
acts with, so the key's permission applies in the browser as on `/v1`. Sessions end on sign
out, on expiry and when their key is revoked (the key's row going takes them with it)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.crypto import SecretBox, hash_api_key
from lampion.errors import AuthenticationFailed
from lampion.services import api_keys
from lampion.services.auth import authenticate
from lampion.store.engine import Sessions
from lampion.store.models import ApiKey, ConsoleLink, ConsoleSession, Org
from lampion.store.types import utcnow

SESSION_TTL = timedelta(hours=12)
LINK_TTL = timedelta(minutes=15)
LINK_KEY_NAME = "console sign-in link"


@dataclass(frozen=True)
class SignedIn:
    """A live console session: who it is and the key it acts with."""

    org_id: str
    org_name: str
    permission: str
    api_key: str
    csrf_token: str


def _token() -> str:
    return secrets.token_urlsafe(32)


async def sign_in(sessions: Sessions, box: SecretBox, api_key: str) -> str:
    """A new session for a valid API key; returns the cookie's token."""
    key = api_key.strip()
    principal = await authenticate(sessions, key)
    return await _open(sessions, box, principal.org_id, principal.key_id, key)


async def _open(
    sessions: Sessions, box: SecretBox, org_id: str, key_id: str, key: str,
    *, owns_key: bool = False,
) -> str:  # fmt: skip
    token = _token()
    now = utcnow()
    async with sessions() as session, session.begin():
        await _end_expired(session)
        session.add(
            ConsoleSession(
                token_hash=hash_api_key(token),
                org_id=org_id,
                api_key_id=key_id,
                key_enc=box.encrypt(key),
                csrf_token=_token(),
                owns_key=owns_key,
                created_at=now,
                expires_at=now + SESSION_TTL,
            )
        )
    return token


async def _end_expired(session: AsyncSession) -> None:
    """Expired sessions and links go, with the keys made for them."""
    now = utcnow()
    expired_sessions = (
        await session.scalars(select(ConsoleSession).where(ConsoleSession.expires_at < now))
    ).all()
    expired_links = (
        await session.scalars(select(ConsoleLink).where(ConsoleLink.expires_at < now))
    ).all()
    made_for_them = [s.api_key_id for s in expired_sessions if s.owns_key]
    made_for_them += [link.api_key_id for link in expired_links]
    for row in [*expired_sessions, *expired_links]:
        await session.delete(row)
    await _revoke(session, made_for_them)


async def _revoke(session: AsyncSession, key_ids: list[str]) -> None:
    for key in (await session.scalars(select(ApiKey).where(ApiKey.id.in_(key_ids)))).all():
        if key.revoked_at is None:
            api_keys.revoke_in(session, key)


async def current(sessions: Sessions, box: SecretBox, token: str | None) -> SignedIn | None:
    """The session a cookie names, while it and its key are live."""
    if not token:
        return None
    async with sessions() as session:
        row = await session.execute(
            select(ConsoleSession, ApiKey.permission, Org.name)
            .join(ApiKey, ApiKey.id == ConsoleSession.api_key_id)
            .join(Org, Org.id == ConsoleSession.org_id)
            .where(
                ConsoleSession.token_hash == hash_api_key(token),
                ConsoleSession.expires_at > utcnow(),
                ApiKey.revoked_at.is_(None),
            )
        )
        found = row.first()
    if found is None:
        return None
    console_session, permission, org_name = found
    return SignedIn(
        org_id=console_session.org_id,
        org_name=org_name,
        permission=permission,
        api_key=box.decrypt(console_session.key_enc),
        csrf_token=console_session.csrf_token,
    )


async def sign_out(sessions: Sessions, token: str | None) -> None:
    """Ends the session; a key made for it (by a sign-in link) is revoked with it."""
    if not token:
        return
    async with sessions() as session, session.begin():
        row = await session.scalar(
            select(ConsoleSession).where(ConsoleSession.token_hash == hash_api_key(token))
        )
        if row is None:
            return
        await session.delete(row)
        if row.owns_key:
            await _revoke(session, [row.api_key_id])


async def create_link(sessions: Sessions, box: SecretBox, org_id: str) -> str:
    """A one-time sign-in token for an org: it signs in with a new admin key of its own, so
    revoking that key ends what the link started."""
    token = _token()
    async with sessions() as session, session.begin():
        key, plaintext = await api_keys.create_in(session, org_id, LINK_KEY_NAME, "admin")
        session.add(
            ConsoleLink(
                token_hash=hash_api_key(token),
                org_id=org_id,
                api_key_id=key.id,
                key_enc=box.encrypt(plaintext),
                expires_at=utcnow() + LINK_TTL,
            )
        )
    return token


async def redeem_link(sessions: Sessions, box: SecretBox, token: str) -> str:
    """Signs in with a link's key and spends the link; a spent, expired or unknown link
    fails as a wrong key would. The session owns the link's key."""
    async with sessions() as session, session.begin():
        link = await session.scalar(
            select(ConsoleLink).where(ConsoleLink.token_hash == hash_api_key(token))
        )
        if link is not None:
            await session.delete(link)
            if link.expires_at <= utcnow():
                await _revoke(session, [link.api_key_id])
    if link is None or link.expires_at <= utcnow():
        raise AuthenticationFailed("This sign-in link is not valid (used or expired)")
    key = box.decrypt(link.key_enc)
    principal = await authenticate(sessions, key)
    return await _open(sessions, box, principal.org_id, principal.key_id, key, owns_key=True)
