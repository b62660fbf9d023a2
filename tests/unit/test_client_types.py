"""The client's answers are the server's models, sync and async alike (mypy checks the
assert_type lines), against a scripted HTTP transport."""

from __future__ import annotations

from typing import Any, assert_type

import httpx
import pytest

from lampion.client import AsyncLampion, Lampion, NotFoundError
from lampion.schemas.branches import Branch, BranchCreated
from lampion.schemas.projects import Project, ProjectCreated

KEY = "lmp_live_" + "a" * 32
URL = "http://lampion.test"
CREATED_AT = "2026-01-01T00:00:00Z"
PROJECT = {"id": "prj-1", "name": "shop", "region": "local", "pg_version": 16,
           "state": "active", "created_at": CREATED_AT}  # fmt: skip
CONNECTION = {"connection_string": "postgresql://cloud_admin:pw@db.test:6432/ep-1.postgres?sslmode=require",
              "pg_password": "pw", "host": "db.test", "port": 6432, "pg_port": 55000}  # fmt: skip
BRANCH = {"id": "br-1", "project_id": "prj-1", "name": "main", "is_primary": True,
          "state": "ready", "endpoint_id": "ep-1", "created_at": CREATED_AT}  # fmt: skip
ENDPOINT = {"id": "ep-1", "project_id": "prj-1", "branch_id": "br-1", "status": "running",
            "auto_suspend_seconds": 300, "compute_units": 1.0, "created_at": CREATED_AT,
            **CONNECTION}  # fmt: skip
NOT_FOUND = {"success": False, "error": {"code": "not_found", "message": "gone"}}
CONFLICT = {"success": False, "error": {"code": "conflict", "message": "exists"}}


def answer(request: httpx.Request) -> httpx.Response:
    route = (request.method, request.url.path)
    if route == ("GET", "/v1/projects"):
        return httpx.Response(
            200, json=[PROJECT] if request.url.params.get("name") == "shop" else []
        )
    if route == ("POST", "/v1/projects"):
        body = {**PROJECT, "branch_id": "br-1", "endpoint_id": "ep-1", **CONNECTION}
        return httpx.Response(201, json=body)
    if route == ("POST", "/v1/projects/prj-1/branches"):
        return httpx.Response(409, json=CONFLICT)
    if route == ("GET", "/v1/projects/prj-1/branches"):
        return httpx.Response(200, json=[BRANCH])
    if route == ("GET", "/v1/projects/prj-1/endpoints"):
        return httpx.Response(200, json=[ENDPOINT])
    return httpx.Response(404, json=NOT_FOUND)


def sync_client() -> Lampion:
    api = Lampion(api_url=URL, api_key=KEY)
    api._transport.http = httpx.Client(base_url=URL, transport=httpx.MockTransport(answer))
    return api


def async_client() -> AsyncLampion:
    api = AsyncLampion(api_url=URL, api_key=KEY)
    mock = httpx.MockTransport(answer)
    api._transport.http = httpx.AsyncClient(base_url=URL, transport=mock)
    return api


def test_sync_answers_are_models() -> None:
    with sync_client() as api:
        created = api.projects.create("shop", region="local")
        assert_type(created, ProjectCreated)
        assert isinstance(created, ProjectCreated)
        listed = api.projects.list(name="shop")
        assert_type(listed, list[Project])
        assert [p.id for p in listed] == ["prj-1"]
        branches = api.branches.list("prj-1")
        assert_type(branches, list[Branch])
        assert isinstance(branches[0], Branch)
        existing = api.branches.create("prj-1", "main", if_not_exists=True)
        assert_type(existing, BranchCreated | None)
        assert existing is None
        assert_type(api.projects.delete("prj-9", if_exists=True), None)
        with pytest.raises(NotFoundError):
            api.projects.delete("prj-9")
        url = api.connection_string("shop", database="app", role="reader")
        assert_type(url, str)
        assert url == "postgresql://reader@db.test:6432/ep-1.app?sslmode=require"
        assert_type(api.endpoint_of("shop"), tuple[str, str])
        with pytest.raises(NotFoundError):
            api.resolve_project("nobody")


async def test_async_answers_are_the_same_models() -> None:
    async with async_client() as api:
        created = await api.projects.create("shop")
        assert_type(created, ProjectCreated)
        assert isinstance(created, ProjectCreated)
        listed = await api.projects.list(name="shop")
        assert_type(listed, list[Project])
        existing = await api.branches.create("prj-1", "main", if_not_exists=True)
        assert_type(existing, BranchCreated | None)
        assert existing is None
        assert_type(await api.projects.delete("prj-9", if_exists=True), None)
        url = await api.connection_string("prj-1")
        assert_type(url, str)
        assert url == CONNECTION["connection_string"]
        assert await api.endpoint_of("shop") == ("prj-1", "ep-1")


def test_options_are_keyword_only() -> None:
    with sync_client() as api:
        create: Any = api.projects.create
        with pytest.raises(TypeError):
            create("shop", "local")
