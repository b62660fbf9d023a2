"""Pagination, filters and sorting on list routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from lampion import ids
from lampion.store.engine import Sessions
from lampion.store.models import Branch, Org, Project
from tests.support.apps import client_for
from tests.support.orgs import make_key

pytestmark = pytest.mark.compute


def links(response: httpx.Response) -> dict[str, str]:
    return {
        rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
    }


async def test_pages_filters_and_sorting(app: FastAPI) -> None:
    key = await make_key(app.state.runtime.sessions, "org-listing")
    async with client_for(app, key) as client:
        for i in range(5):
            response = await client.post("/v1/api_keys", json={"name": f"key-{4 - i}"})
            assert response.status_code == 201
        first = await client.get("/v1/api_keys", params={"limit": 2})
        assert first.headers["X-Total-Count"] == "6"  # five and the bootstrap key
        assert len(first.json()) == 2
        pages = links(first)
        assert set(pages) == {"first", "last", "next"}
        assert "page=3" in pages["last"]
        second = await client.get(pages["next"])
        assert set(links(second)) == {"first", "last", "next", "prev"}
        assert {k["id"] for k in first.json()}.isdisjoint(k["id"] for k in second.json())
        last = await client.get(pages["last"])
        assert "next" not in links(last)
        assert len(last.json()) == 2

        by_name = await client.get("/v1/api_keys", params={"sort": "name", "order": "desc"})
        names = [k["name"] for k in by_name.json()]
        assert names == sorted(names, reverse=True)
        bad_sort = await client.get("/v1/api_keys", params={"sort": "secret"})
        assert bad_sort.status_code == 400
        (error,) = bad_sort.json()["error"]["details"]["errors"]
        assert error["field"] == "query.sort"
        assert "'name'" in error["message"]
        for params in ({"page": 0}, {"limit": 0}, {"limit": 1001}, {"order": "sideways"}):
            assert (await client.get("/v1/api_keys", params=params)).status_code == 400
        beyond = await client.get("/v1/api_keys", params={"page": 99})
        assert beyond.json() == []
        assert beyond.headers["X-Total-Count"] == "6"


async def test_project_and_endpoint_filters(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    named = await api.get("/v1/projects", params={"name": "shared"})
    assert [p["id"] for p in named.json()] == [shared_project["id"]]
    assert (await api.get("/v1/projects", params={"region": "nowhere"})).json() == []
    endpoints = f"/v1/projects/{shared_project['id']}/endpoints"
    running = await api.get(endpoints, params={"status": "running"})
    assert [e["id"] for e in running.json()] == [shared_project["endpoint_id"]]
    assert (await api.get(endpoints, params={"status": "suspended"})).json() == []
    on_branch = await api.get(endpoints, params={"branch_id": shared_project["branch_id"]})
    assert len(on_branch.json()) == 1
    branches = await api.get(
        f"/v1/projects/{shared_project['id']}/branches", params={"name": "main"}
    )
    assert [b["name"] for b in branches.json()] == ["main"]
    assert branches.headers["X-Total-Count"] == "1"


# Rows written straight into the store (no computes): the lists below are cut in SQL, so
# their pages, filters and sorts must read as the stable Python sort they replaced did.

START = datetime(2026, 1, 1, tzinfo=UTC)


async def org_id_of(sessions: Sessions, name: str) -> str:
    async with sessions() as session:
        org_id = await session.scalar(select(Org.id).where(Org.name == name))
    assert org_id is not None
    return org_id


async def add_projects(sessions: Sessions, org_id: str, rows: list[tuple[str, str, int]]) -> None:
    """Projects (name, region, seconds after START) in the order given."""
    async with sessions() as session, session.begin():
        for name, region, second in rows:
            session.add(
                Project(
                    id=ids.project_id(),
                    org_id=org_id,
                    name=name,
                    region=region,
                    pg_version=16,
                    state="active",
                    created_at=START + timedelta(seconds=second),
                )
            )


def natural(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (item["created_at"], item["id"]))


async def everything(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await client.get(url, params={"limit": 1000})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()
    return items


async def test_a_page_in_the_middle(app: FastAPI) -> None:
    sessions = app.state.runtime.sessions
    key = await make_key(sessions, "org-listing-middle")
    # Every third pair shares a creation time: the id breaks the tie.
    rows = [(f"p{i:02}", "fr-par-1", i - i % 3 // 2) for i in range(25)]
    await add_projects(sessions, await org_id_of(sessions, "org-listing-middle"), rows)
    async with client_for(app, key) as client:
        whole = await everything(client, "/v1/projects")
        assert whole == natural(whole)
        middle = await client.get("/v1/projects", params={"page": 2, "limit": 10, "x": "kept"})
        assert middle.headers["X-Total-Count"] == "25"
        assert middle.json() == whole[10:20]
        pages = links(middle)
        assert set(pages) == {"first", "last", "next", "prev"}
        assert "page=3" in pages["next"]
        assert "page=1" in pages["prev"]
        assert "page=3" in pages["last"]
        assert "x=kept" in pages["last"]
        backwards = await client.get(
            "/v1/projects", params={"page": 2, "limit": 10, "order": "desc"}
        )
        assert backwards.json() == whole[::-1][10:20]
        last = await client.get(pages["last"])
        assert last.json() == whole[20:]
        far = await client.get("/v1/projects", params={"page": 10**18, "limit": 1000})
        assert far.json() == []
        assert far.headers["X-Total-Count"] == "25"


async def test_filters_sort_and_desc_in_sql(app: FastAPI) -> None:
    sessions = app.state.runtime.sessions
    key = await make_key(sessions, "org-listing-sorts")
    # Names that a locale would order differently from code points (case, punctuation), and
    # ties on the sorted field that must keep creation order in both directions.
    names = ["b", "B", "a-2", "a2", "a", "b", "Z", "b", "a-1", "é"]
    rows = [(name, "fr-par-1" if i % 4 else "nl-ams-1", i) for i, name in enumerate(names)]
    rows += [("a", "nl-ams-1", 100 + i) for i in range(3)]
    await add_projects(sessions, await org_id_of(sessions, "org-listing-sorts"), rows)
    async with client_for(app, key) as client:
        whole = natural(await everything(client, "/v1/projects"))
        in_paris = [p for p in whole if p["region"] == "fr-par-1"]
        by_name_desc = sorted(in_paris, key=lambda p: p["name"], reverse=True)
        params: dict[str, str | int] = {
            "region": "fr-par-1",
            "sort": "name",
            "order": "desc",
            "limit": 3,
        }
        first = await client.get("/v1/projects", params=params)
        second = await client.get("/v1/projects", params={**params, "page": 2})
        assert first.headers["X-Total-Count"] == str(len(in_paris))
        assert first.json() + second.json() == by_name_desc[:6]

        by_name = await client.get("/v1/projects", params={"sort": "name", "limit": 1000})
        assert by_name.json() == sorted(whole, key=lambda p: p["name"])
        named = await client.get(
            "/v1/projects", params={"name": "a", "sort": "region", "order": "desc"}
        )
        only_a = [p for p in whole if p["name"] == "a"]
        assert named.json() == sorted(only_a, key=lambda p: p["region"], reverse=True)
        assert named.headers["X-Total-Count"] == "4"


async def test_branch_pages_in_sql(app: FastAPI) -> None:
    sessions = app.state.runtime.sessions
    key = await make_key(sessions, "org-listing-branches")
    org_id = await org_id_of(sessions, "org-listing-branches")
    await add_projects(sessions, org_id, [("many-branches", "fr-par-1", 0)])
    async with client_for(app, key) as client:
        (project,) = await everything(client, "/v1/projects")
        async with sessions() as session, session.begin():
            for i in range(12):
                session.add(
                    Branch(
                        id=ids.branch_id(),
                        project_id=project["id"],
                        name=f"b{(i * 7) % 12:02}",
                        is_primary=i == 0,
                        state="ready",
                        created_at=START + timedelta(seconds=i // 2),
                    )
                )
        url = f"/v1/projects/{project['id']}/branches"
        whole = await everything(client, url)
        assert whole == natural(whole)
        assert all(branch["endpoint_id"] is None for branch in whole)
        newest = await client.get(url, params={"sort": "created_at", "order": "desc", "limit": 4})
        in_desc = sorted(whole, key=lambda b: b["created_at"], reverse=True)
        assert newest.json() == in_desc[:4]
        by_name = await client.get(url, params={"sort": "name", "page": 2, "limit": 5})
        assert by_name.json() == sorted(whole, key=lambda b: b["name"])[5:10]
        one = await client.get(url, params={"name": "b07"})
        assert [b["name"] for b in one.json()] == ["b07"]
        assert one.headers["X-Total-Count"] == "1"
