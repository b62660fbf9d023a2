"""Orgs and API keys made straight in the store, as `lampion keys create` does."""

from __future__ import annotations

from lampion.services import api_keys, orgs
from lampion.store.engine import Sessions


async def make_key(
    sessions: Sessions, org: str, permission: str = "admin", plan: str = "pro"
) -> str:
    async with sessions() as session, session.begin():
        org_row = await orgs.get_or_create(session, org, plan)
        _, key = await api_keys.create_in(session, org_row.id, "test", permission)
    return key
