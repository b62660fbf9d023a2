"""Console sign-in links and sessions leave no live key behind them."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select, update

from lampion.errors import AuthenticationFailed
from lampion.services import console_sessions, orgs
from lampion.store.models import ApiKey, ConsoleLink
from lampion.store.types import utcnow
from tests.support.orgs import make_key


async def test_an_unused_link_that_expired_takes_its_key_with_it(app: FastAPI) -> None:
    runtime = app.state.runtime
    sessions, box = runtime.sessions, runtime.secrets
    key = await make_key(sessions, "org-console-expiry")
    async with sessions() as session, session.begin():
        org_id = (await orgs.get_or_create(session, "org-console-expiry")).id
    token = await console_sessions.create_link(sessions, box, org_id)
    await console_sessions.create_link(sessions, box, org_id)  # never opened
    async with sessions() as session, session.begin():
        await session.execute(
            update(ConsoleLink).values(expires_at=utcnow() - timedelta(minutes=1))
        )

    try:
        await console_sessions.redeem_link(sessions, box, token)
    except AuthenticationFailed:
        pass
    else:
        raise AssertionError("an expired link signed in")
    await console_sessions.sign_in(sessions, box, key)  # any sign-in sweeps what expired
    async with sessions() as session:
        link_keys = (
            await session.scalars(
                select(ApiKey).where(ApiKey.name == console_sessions.LINK_KEY_NAME)
            )
        ).all()
    assert len([k for k in link_keys if k.org_id == org_id]) == 2
    assert all(k.revoked_at is not None for k in link_keys if k.org_id == org_id)
