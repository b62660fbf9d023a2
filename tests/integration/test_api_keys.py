"""API keys: bearer and X-API-Key, permissions, immediate revocation."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from lampion.runtime import Runtime
from tests.support.apps import client_for
from tests.support.orgs import make_key


async def test_create_list_and_revoke(api: httpx.AsyncClient, app: FastAPI) -> None:
    created = await api.post("/v1/api_keys", json={"name": "ci"})
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("lmp_live_")
    assert len(key) == len("lmp_live_") + 32
    assert body["permission"] == "developer"
    assert key.startswith(body["prefix"])

    listed = await api.get("/v1/api_keys")
    assert listed.status_code == 200
    assert key not in listed.text
    assert body["id"] in [k["id"] for k in listed.json()]

    async with client_for(app, key) as new_client:
        assert (await new_client.get("/v1/projects")).status_code == 200
        assert (await api.delete(f"/v1/api_keys/{body['id']}")).status_code == 204
        revoked = await new_client.get("/v1/projects")
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "authentication_failed"
    assert body["id"] not in [k["id"] for k in (await api.get("/v1/api_keys")).json()]
    assert (await api.delete(f"/v1/api_keys/{body['id']}")).status_code == 404


async def test_x_api_key_header(app: FastAPI, admin_key: str) -> None:
    async with client_for(app) as client:
        response = await client.get("/v1/projects", headers={"X-API-Key": admin_key})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer lmp_live_" + "a" * 32},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "lmp_live_short"},
    ],
)
async def test_missing_or_invalid_key_is_401(
    anonymous: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await anonymous.get("/v1/projects", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_read_only_key_cannot_change_state(
    app: FastAPI, runtime: Runtime, shared_project: dict[str, str]
) -> None:
    key = await make_key(runtime.sessions, "org-a", "read_only")
    async with client_for(app, key) as client:
        assert (await client.get("/v1/projects")).status_code == 200
        assert (await client.get(f"/v1/projects/{shared_project['id']}")).status_code == 200
        created = await client.post("/v1/projects", json={"name": "nope"})
        deleted = await client.delete(f"/v1/projects/{shared_project['id']}")
    assert created.status_code == deleted.status_code == 403
    assert created.json()["error"]["code"] == "forbidden"
    async with client_for(app, key) as client:
        assert (await client.get(f"/v1/projects/{shared_project['id']}")).status_code == 200


async def test_only_admin_keys_manage_keys(app: FastAPI, runtime: Runtime) -> None:
    key = await make_key(runtime.sessions, "org-a", "developer")
    async with client_for(app, key) as client:
        assert (await client.get("/v1/api_keys")).status_code == 403
        assert (await client.post("/v1/api_keys", json={})).status_code == 403
        assert (await client.get("/v1/projects")).status_code == 200


async def test_keys_of_another_org_are_invisible(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    created = (await other_api.post("/v1/api_keys", json={"name": "b"})).json()
    assert created["id"] not in [k["id"] for k in (await api.get("/v1/api_keys")).json()]
    assert (await api.delete(f"/v1/api_keys/{created['id']}")).status_code == 404
    assert (await other_api.delete(f"/v1/api_keys/{created['id']}")).status_code == 204


async def test_invalid_permission_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/api_keys", json={"permission": "root"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["field"] == "body.permission"
