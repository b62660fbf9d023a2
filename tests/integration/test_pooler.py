"""Pooled connections: each compute's PgBouncer, reached through the proxy as
``<endpoint_id>-pooler``, with the endpoint's own password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.apps import client_for
from tests.support.pg import connect, fetchval

pytestmark = pytest.mark.compute


@pytest.fixture(scope="module")
async def pooled_project(app: FastAPI, admin_key: str) -> AsyncIterator[dict[str, Any]]:
    async with client_for(app, admin_key) as client:
        response = await client.post("/v1/projects", json={"name": "pooled"})
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()
        yield project
        await client.delete(f"/v1/projects/{project['id']}")


async def test_queries_through_the_pooler(pooled_project: dict[str, Any]) -> None:
    dsn = pooled_project["pooled_connection_string"]
    assert f"{pooled_project['endpoint_id']}-pooler." in dsn
    connection = await connect(dsn, statement_cache_size=0)
    try:
        assert await connection.fetchval("SELECT current_user") == "cloud_admin"
        # a pooled session is PgBouncer's: postgres sees it come over the unix socket
        assert await connection.fetchval("SELECT inet_client_addr()") is None
    finally:
        await connection.close()
