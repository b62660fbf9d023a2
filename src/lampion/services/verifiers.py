"""The SCRAM verifiers of each endpoint's roles, held by the control plane so that the
proxy can check a password while the compute sleeps.

Filled when the control plane sets a password itself (the superuser's at create, branch,
restore; roles created through the API) and harvested from the compute's ``pg_authid``
while it runs (after a password is set, before a suspend, and by the sampler's pass), so
roles made with SQL are known too. Stored encrypted like the endpoint's own password.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from lampion.compute.base import AdminTarget
from lampion.pg.authid import login_verifiers
from lampion.runtime import Runtime
from lampion.store.models import RoleVerifier

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Known:
    """What the control plane knows of one role of an endpoint."""

    endpoint_known: bool
    """Any role of the endpoint has been recorded (an endpoint from before verifiers were
    kept has none until its compute runs once)."""
    role_known: bool
    verifier: str | None
    """The role's SCRAM-SHA-256 verifier; None when unknown or not a SCRAM one."""


async def lookup(rt: Runtime, endpoint_id: str, role: str) -> Known:
    async with rt.sessions() as session:
        row = await session.get(RoleVerifier, (endpoint_id, role))
        if row is None:
            anything = await session.scalar(
                select(RoleVerifier.role).where(RoleVerifier.endpoint_id == endpoint_id).limit(1)
            )
            return Known(anything is not None, False, None)
        return Known(True, True, _stored(rt, row))


async def remember(rt: Runtime, endpoint_id: str, role: str, verifier: str | None) -> None:
    """Records a verifier the control plane just set (None: the role has none to check)."""
    encrypted = rt.secrets.encrypt(verifier) if verifier is not None else None
    for attempt in range(2):
        try:
            async with rt.sessions() as session, session.begin():
                row = await session.get(RoleVerifier, (endpoint_id, role))
                if row is None:
                    session.add(
                        RoleVerifier(endpoint_id=endpoint_id, role=role, verifier_enc=encrypted)
                    )
                else:
                    row.verifier_enc = encrypted
            return
        except IntegrityError:  # a harvest inserted the row meanwhile: update it
            if attempt:
                raise


async def forget(rt: Runtime, endpoint_id: str, role: str) -> None:
    async with rt.sessions() as session, session.begin():
        await session.execute(
            delete(RoleVerifier).where(
                RoleVerifier.endpoint_id == endpoint_id, RoleVerifier.role == role
            )
        )


async def harvest(rt: Runtime, endpoint_id: str, target: AdminTarget) -> None:
    """Makes the stored verifiers those of the running compute's ``pg_authid``."""
    current = await login_verifiers(target)
    async with rt.sessions() as session, session.begin():
        rows = {
            row.role: row
            for row in await session.scalars(
                select(RoleVerifier).where(RoleVerifier.endpoint_id == endpoint_id)
            )
        }
        for role, row in rows.items():
            if role not in current:
                await session.delete(row)
        for role, verifier in current.items():
            stored = rows.get(role)
            if stored is None:
                encrypted = rt.secrets.encrypt(verifier) if verifier is not None else None
                session.add(
                    RoleVerifier(endpoint_id=endpoint_id, role=role, verifier_enc=encrypted)
                )
            elif _stored(rt, stored) != verifier:
                stored.verifier_enc = rt.secrets.encrypt(verifier) if verifier is not None else None


async def harvest_quietly(rt: Runtime, endpoint_id: str, target: AdminTarget) -> None:
    """``harvest`` for passes that must go on without it (suspend, the sampler)."""
    try:
        await harvest(rt, endpoint_id, target)
    except Exception as exc:
        log.info("verifiers.not_harvested", endpoint_id=endpoint_id, error=str(exc))


def _stored(rt: Runtime, row: RoleVerifier) -> str | None:
    return rt.secrets.decrypt(row.verifier_enc) if row.verifier_enc is not None else None
