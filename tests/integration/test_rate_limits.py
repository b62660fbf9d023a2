"""Rate limits from the org's plan: headers on every authenticated response, 429 past the
burst, failed authentication consumes nothing."""

from __future__ import annotations

import re
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


async def test_the_consoles_reads_leave_the_keys_budget_alone(app: FastAPI) -> None:
    """A console page open with live badges reads the API every few seconds: those reads
    are not the key's requests and would spend a free plan's hour in minutes. Its writes
    count as the API's do."""
    key = await make_key(app.state.runtime.sessions, "org-rate-console", plan="free")
    async with client_for(app) as browser:
        browser.headers["Origin"] = str(browser.base_url).rstrip("/")
        signed_in = await browser.post("/console/sign-in", data={"api_key": key})
        assert signed_in.status_code == 303, signed_in.text
        for _ in range(60):  # more than the free plan's burst of 50
            listed = await browser.get("/console/projects")
            assert listed.status_code == 200
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', listed.text)
        assert csrf is not None
        async with client_for(app, key) as client:
            after_reads = await client.get("/v1/plans")
            assert after_reads.status_code == 200
            assert after_reads.headers["X-RateLimit-Remaining"] == "49"
            created = await browser.post(
                "/console/settings/api-keys",
                data={"name": "counted", "permission": "read_only"},
                headers={"X-CSRF-Token": csrf.group(1)},
            )
            assert created.status_code == 200, created.text
            after_write = await client.get("/v1/plans")
            assert after_write.headers["X-RateLimit-Remaining"] == "47"
