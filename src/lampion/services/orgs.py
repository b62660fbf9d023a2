"""Organizations: the owners of keys and projects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.services import plans
from lampion.store.models import Org


async def get_or_create(session: AsyncSession, name: str, plan: str | None = None) -> Org:
    if plan is not None:
        await plans.validate_name(session, plan)
    org = await session.scalar(select(Org).where(Org.name == name))
    if org is None:
        org = Org(id=ids.org_id(), name=name, plan=plan or "free")
        session.add(org)
        await session.flush()
    elif plan is not None and org.plan != plan:
        org.plan = plan
    return org
