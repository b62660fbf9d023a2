"""Compute ports: a create that loses its port to a concurrent one tries again."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.errors import Conflict
from lampion.runtime import Runtime
from lampion.services import computes
from lampion.store.models import Branch, Endpoint
from lampion.store.types import utcnow

pytestmark = pytest.mark.compute


async def _ports(runtime: Runtime) -> list[int]:
    async with runtime.sessions() as session:
        return sorted((await session.scalars(select(Endpoint.port))).all())


async def test_a_lost_port_race_is_retried_and_a_name_race_reported(
    runtime: Runtime, shared_project: dict[str, str]
) -> None:
    before = await _ports(runtime)
    taken = before[0]
    attempts: list[int] = []

    async def add_rows(session: AsyncSession, port: int) -> int:
        """The first attempt writes a port a concurrent create holds (the unique constraint
        refuses it, as it refuses the loser of a race); the second one succeeds."""
        attempts.append(port)
        branch = Branch(
            id=ids.branch_id(),
            project_id=shared_project["id"],
            name=f"race-{len(attempts)}",
            is_primary=False,
            state="provisioning",
            created_at=utcnow(),
        )
        session.add(branch)
        await session.flush()
        session.add(
            Endpoint(
                id=ids.endpoint_id(),
                project_id=shared_project["id"],
                branch_id=branch.id,
                status="provisioning",
                desired_state="suspended",
                port=taken if len(attempts) == 1 else port,
                password_enc="-",
                created_at=utcnow(),
            )
        )
        await session.flush()
        await session.rollback()  # (a probe: keep nothing)
        return port

    races: list[int] = []

    async def on_race() -> None:
        races.append(len(attempts))

    assert await computes.insert_with_port(runtime, add_rows, on_race) == attempts[-1]
    assert len(attempts) == 2
    assert races == [1]

    async def name_taken() -> None:
        raise Conflict("A branch named 'race-1' already exists in this project")

    attempts.clear()
    with pytest.raises(Conflict, match="already exists"):
        await computes.insert_with_port(runtime, add_rows, name_taken)
    assert await _ports(runtime) == before  # nothing written
