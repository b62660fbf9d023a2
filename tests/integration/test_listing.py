"""Pagination, filters and sorting on list routes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for
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
