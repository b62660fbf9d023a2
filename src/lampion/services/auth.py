"""Who is calling: an API key resolved to its org and permission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from lampion import ids
from lampion.crypto import api_key_matches
from lampion.errors import AuthenticationFailed, Forbidden
from lampion.store.engine import Sessions
from lampion.store.models import ApiKey, Org
from lampion.store.types import utcnow

PERMISSIONS = ("admin", "developer", "read_only")
_LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    org_id: str
    plan: str
    key_id: str
    permission: str

    def require_write(self) -> None:
        if self.permission == "read_only":
            raise Forbidden("This API key is read-only")

    def require_admin(self) -> None:
        if self.permission != "admin":
            raise Forbidden("Only admin API keys can manage API keys")


async def authenticate(sessions: Sessions, presented: str | None) -> Principal:
    if not presented:
        raise AuthenticationFailed(
            "Missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    if not ids.is_api_key_shaped(presented):
        raise AuthenticationFailed("Invalid API key")
    async with sessions() as session:
        rows = (
            await session.execute(
                select(ApiKey, Org)
                .join(Org, Org.id == ApiKey.org_id)
                .where(ApiKey.lookup == ids.api_key_lookup(presented))
            )
        ).all()
        for key, org in rows:
            if api_key_matches(presented, key.key_hash) and key.revoked_at is None:
                now = utcnow()
                if key.last_used_at is None or now - key.last_used_at > _LAST_USED_PRECISION:
                    key.last_used_at = now
                    try:
                        await session.commit()
                    except (SQLAlchemyError, OSError):  # a full disk must not refuse reads
                        await session.rollback()
                return Principal(
                    org_id=org.id,
                    plan=org.plan,
                    key_id=key.id,
                    permission=key.permission,
                )
    raise AuthenticationFailed("Invalid API key")
