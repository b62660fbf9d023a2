"""Rate limits from the org's plan: headers on every authenticated response, 429 past the
burst, failed authentication consumes nothing."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI

from tests.support.apps import client_for
from tests.support.orgs import make_key


async def test_free_plan_burst_and_headers(app: FastAPI) -> None:
    key = await make_key(app.state.runtime.sessions, "org-rate-free", plan="free")
    wrong = key[:-1] + ("y" if key[-1] != "y" else "z")
    async with client_for(app) as anonymous:
        for _ in range(10):  # failed authentication does not consume the key's quota
            bad = await anonymous.get("/v1/plans", headers={"Authorization": f"Bearer {wrong}"})
            assert bad.status_code == 401
            assert "X-RateLimit-Remaining" not in bad.headers
    async with client_for(app, key) as client:
        first = await client.get("/v1/plans")
        assert first.headers["X-RateLimit-Limit"] == "1000"
        assert first.headers["X-RateLimit-Remaining"] == "49"
        assert int(first.headers["X-RateLimit-Reset"]) > time.time()
        for _ in range(49):
            assert (await client.get("/v1/plans")).status_code == 200
        limited = await client.get("/v1/plans")
        assert limited.status_code == 429
        body = limited.json()
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert body["error"]["details"]["retry_after"] >= 1
        assert int(limited.headers["Retry-After"]) == body["error"]["details"]["retry_after"]
        assert limited.headers["X-RateLimit-Remaining"] == "0"
    other = await make_key(app.state.runtime.sessions, "org-rate-other", plan="free")
    async with client_for(app, other) as client:  # another org is not affected
        assert (await client.get("/v1/plans")).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_unauthenticated_routes_are_not_limited(app: FastAPI, path: str) -> None:
    async with client_for(app) as client:
        response = await client.get(path)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
