"""Idempotency-Key on creating POSTs: replay, conflict in flight, 422 on another body."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.support.apps import client_for
from tests.support.orgs import make_key

pytestmark = pytest.mark.compute


async def test_ten_simultaneous_retries_create_one_project(app: FastAPI) -> None:
    key = await make_key(app.state.runtime.sessions, "org-idempotent")
    async with client_for(app, key) as client:
        headers = {"Idempotency-Key": "create-my-app-1"}
        responses = await asyncio.gather(
            *(
                client.post("/v1/projects", json={"name": "once"}, headers=headers)
                for _ in range(10)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(201) >= 1
        assert set(statuses) <= {201, 409}
        projects = (await client.get("/v1/projects")).json()
        assert len(projects) == 1
        created = next(
            r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
        )

        replay = await client.post("/v1/projects", json={"name": "once"}, headers=headers)
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == created.json()  # exactly, password included
        assert len((await client.get("/v1/projects")).json()) == 1

        reused = await client.post("/v1/projects", json={"name": "other"}, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        too_long = await client.post(
            "/v1/projects", json={"name": "x"}, headers={"Idempotency-Key": "k" * 256}
        )
        assert too_long.status_code == 400
        await client.delete(f"/v1/projects/{projects[0]['id']}")


async def test_keys_are_per_caller_and_errors_are_replayed(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    key = await make_key(app.state.runtime.sessions, "org-idempotent-2")
    headers = {"Idempotency-Key": "same-key"}
    async with client_for(app, key) as client:
        first = await client.post("/v1/api_keys", json={"name": "a"}, headers=headers)
        assert first.status_code == 201
        bad = await client.post(
            "/v1/api_keys",
            json={"name": "b", "permission": "root"},
            headers={"Idempotency-Key": "bad-one"},
        )
        assert bad.status_code == 400
        again = await client.post(
            "/v1/api_keys",
            json={"name": "b", "permission": "root"},
            headers={"Idempotency-Key": "bad-one"},
        )
        assert again.status_code == 400
        assert again.headers["Idempotent-Replayed"] == "true"
    other = await api.post("/v1/api_keys", json={"name": "a"}, headers=headers)
    assert other.status_code == 201  # another caller's key space
    assert other.json()["id"] != first.json()["id"]


async def test_a_keyed_post_to_a_very_long_path_is_answered_not_a_500(app: FastAPI) -> None:
    """The route is stored with the key; a path longer than its column is no server error."""
    key = await make_key(app.state.runtime.sessions, "org-idem-long-path")
    long_id = "9" * 400
    path = f"/v1/projects/prj-nosuch/endpoints/{long_id}/sql"
    async with client_for(app, key) as client:
        headers = {"Idempotency-Key": "long-path-1"}
        first = await client.post(path, json={"query": "select 1"}, headers=headers)
        assert first.status_code == 404, first.text
        again = await client.post(path, json={"query": "select 1"}, headers=headers)
        assert again.status_code == 404
        assert again.headers.get("Idempotent-Replayed") == "true"
        other = await client.post(path + "x", json={"query": "select 1"}, headers=headers)
        assert other.status_code == 422
