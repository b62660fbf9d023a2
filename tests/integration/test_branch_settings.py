"""Branch settings: rename, expiry and protection (PATCH), the expiry worker, schema diff."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from lampion import clock
from lampion.runtime import Runtime
from lampion.store.models import Branch, Event
from lampion.workers.expiry import ExpiryWorker
from tests.support.pg import connect
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute


def _at(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


@contextmanager
def clock_ahead(seconds: float) -> Iterator[None]:
    """The control plane's clock runs ``seconds`` ahead of the wall clock."""
    previous = clock.set_source(lambda: datetime.now(UTC) + timedelta(seconds=seconds))
    try:
        yield
    finally:
        clock.set_source(previous)


async def _branch(
    api: httpx.AsyncClient, project: dict[str, Any], name: str, **fields: object
) -> dict[str, Any]:
    response = await api.post(
        f"/v1/projects/{project['id']}/branches", json={"name": name, **fields}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_patch_renames_sets_expiry_and_protects(
    api: httpx.AsyncClient, api_project: dict[str, Any]
) -> None:
    base = f"/v1/projects/{api_project['id']}/branches"
    created = await _branch(api, api_project, "dev", expires_at=_at(3600), protected=True)
    assert created["protected"] is True
    assert created["expires_at"] is not None
    url = f"{base}/{created['id']}"

    renamed = await api.patch(url, json={"name": "dev-2"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "dev-2"
    assert (await api.get(f"{base}/dev-2")).json()["id"] == created["id"]

    taken = await api.patch(url, json={"name": "main"})
    assert taken.status_code == 409
    assert "already exists" in _error(taken)["message"]
    for bad in ({"name": ""}, {"name": None}, {"protected": "yes"}, {}, {"colour": "red"}):
        response = await api.patch(url, json=bad)
        assert response.status_code == 400, (bad, response.text)

    for when in (_at(-60), "2030-01-01T00:00:00", "tomorrow", 1893456000):
        response = await api.patch(url, json={"expires_at": when})
        assert response.status_code == 400, (when, response.text)
        assert "expires_at" in response.text

    moved = await api.patch(url, json={"expires_at": "2099-06-01T12:00:00+02:00"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["expires_at"] == "2099-06-01T10:00:00Z"
    cleared = await api.patch(url, json={"expires_at": None})
    assert cleared.json()["expires_at"] is None
    assert cleared.json()["name"] == "dev-2"  # fields left out stay as they were
    assert cleared.json()["protected"] is True

    primary = await api.patch(f"{base}/{api_project['branch_id']}", json={"expires_at": _at(3600)})
    assert primary.status_code == 400
    assert _error(primary)["details"]["field"] == "expires_at"
    assert "never expires" in _error(primary)["message"]
    past_on_create = await api.post(base, json={"name": "late", "expires_at": _at(-1)})
    assert past_on_create.status_code == 400
    assert _error(past_on_create)["details"]["field"] == "expires_at"

    refused = await api.delete(url)
    assert refused.status_code == 409
    assert "Branch dev-2 is protected" in _error(refused)["message"]
    assert (await api.get(url)).status_code == 200

    unprotected = await api.patch(url, json={"protected": False})
    assert unprotected.json()["protected"] is False
    listed = (await api.get(base)).json()
    assert {(b["name"], b["protected"], b["expires_at"]) for b in listed} >= {
        ("dev-2", False, None),
        ("main", False, None),
    }
    assert (await api.delete(url)).status_code == 204


async def _events_of(runtime: Runtime, branch_id: str) -> list[str]:
    async with runtime.sessions() as session:
        rows = (
            await session.scalars(
                select(Event)
                .where(Event.payload["data"]["id"].as_string() == branch_id)
                .order_by(Event.created_at)
            )
        ).all()
    return [str(row.type) for row in rows]


async def test_expiry_deletes_expired_branches_only(
    api: httpx.AsyncClient, api_project: dict[str, Any], runtime: Runtime
) -> None:
    base = f"/v1/projects/{api_project['id']}/branches"
    doomed = await _branch(api, api_project, "doomed", expires_at=_at(2))
    kept = await _branch(api, api_project, "kept", expires_at=_at(2), protected=True)
    parent = await _branch(api, api_project, "parent", expires_at=_at(2))
    child = await _branch(api, api_project, "child", parent_id=parent["id"])
    later = await _branch(api, api_project, "later", expires_at=_at(3600))
    async with runtime.sessions() as session, session.begin():
        primary = await session.get(Branch, api_project["branch_id"])
        assert primary is not None
        primary.expires_at = datetime.now(UTC) - timedelta(hours=1)  # no API can set this

    try:

        async def expired_pass_deleted(branch: dict[str, Any]) -> bool:
            """A pass of our own (the app's loop may hold the pass: then try again)."""
            with clock_ahead(10):
                await ExpiryWorker(runtime).run_once()
            return await _status_is(api, f"{base}/{branch['id']}", 404)

        await eventually(lambda: expired_pass_deleted(doomed), 60, "the expired branch deleted")
        for survivor in (kept, parent, child, later):
            assert (await api.get(f"{base}/{survivor['id']}")).status_code == 200, survivor
        assert (await api.get(f"{base}/{api_project['branch_id']}")).status_code == 200
        assert await _events_of(runtime, doomed["id"]) == [
            "branch.created",
            "branch.expired",
            "branch.deleted",
        ]
        assert "branch.expired" not in await _events_of(runtime, kept["id"])

        # Once its child is gone, the expired parent goes on the next pass.
        assert (await api.delete(f"{base}/{child['id']}")).status_code == 204
        await eventually(lambda: expired_pass_deleted(parent), 60, "the parent deleted")
    finally:
        async with runtime.sessions() as session, session.begin():
            primary = await session.get(Branch, api_project["branch_id"])
            if primary is not None:
                primary.expires_at = None


async def _status_is(api: httpx.AsyncClient, url: str, status: int) -> bool:
    return (await api.get(url)).status_code == status


async def _execute(dsn: str, sql: str) -> None:
    connection = await connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def test_compare_schema_shows_an_added_column(
    api: httpx.AsyncClient, api_project: dict[str, Any]
) -> None:
    await _execute(str(api_project["connection_string"]), "CREATE TABLE items (id int, name text)")
    dev = await _branch(api, api_project, "dev")
    url = f"/v1/projects/{api_project['id']}/branches/{dev['id']}/compare_schema"

    same = await api.get(url)
    assert same.status_code == 200, same.text
    assert same.json() == {"diff": ""}

    await _execute(dev["connection_string"], "ALTER TABLE items ADD COLUMN extra integer")
    diff = (await api.get(url)).json()["diff"]
    assert diff.startswith("--- a/main\n+++ b/dev\n"), diff
    added = [line for line in diff.splitlines() if line.startswith("+") and "extra" in line]
    assert added == ["+    extra integer"], diff
    assert not [line for line in diff.splitlines() if line.startswith("-") and "restrict" in line]

    reverse = await api.get(
        f"/v1/projects/{api_project['id']}/branches/main/compare_schema",
        params={"base_branch_id": dev["id"]},
    )
    assert reverse.status_code == 200, reverse.text
    assert reverse.json()["diff"].startswith("--- a/dev\n+++ b/main\n")
    assert "-    extra integer" in reverse.json()["diff"].splitlines()

    no_parent = await api.get(f"/v1/projects/{api_project['id']}/branches/main/compare_schema")
    assert no_parent.status_code == 400
    assert _error(no_parent)["details"]["field"] == "base_branch_id"
    unknown_base = await api.get(url, params={"base_branch_id": "br-nope"})
    assert unknown_base.status_code == 400
    missing_db = await api.get(url, params={"database": "nope"})
    assert missing_db.status_code == 404
