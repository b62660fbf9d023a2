"""The client's retry rules, against a scripted HTTP transport."""

from __future__ import annotations

import time

import httpx
import pytest

from lampion.client import LampionAPIError, NotFoundError, RateLimitError
from lampion.client.transport import SyncTransport


def scripted(*responses: httpx.Response) -> tuple[SyncTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    transport = SyncTransport("http://lampion.test", "lmp_live_" + "a" * 32, retries=3)
    transport.http = httpx.Client(
        base_url="http://lampion.test", transport=httpx.MockTransport(handler)
    )
    return transport, seen


def test_retries_keep_the_idempotency_key_and_honour_retry_after() -> None:
    transport, seen = scripted(
        httpx.Response(503, headers={"Retry-After": "0.3"}, json={}),
        httpx.Response(429, headers={"Retry-After": "0.2"}, json={}),
        httpx.Response(201, json={"id": "prj-1"}),
    )
    started = time.monotonic()
    assert transport.request("POST", "/v1/projects", json={"name": "x"}) == {"id": "prj-1"}
    assert time.monotonic() - started >= 0.5
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 3
    assert len(keys) == 1  # the same key on every retry: never a duplicate


def test_errors_carry_what_the_api_said() -> None:
    body = {
        "success": False,
        "error": {"code": "not_found", "message": "Project x not found", "details": {"a": 1}},
        "metadata": {"request_id": "req_abc", "timestamp": "2026-01-01T00:00:00Z"},
    }
    transport, _ = scripted(httpx.Response(404, json=body))
    with pytest.raises(NotFoundError) as caught:
        transport.request("GET", "/v1/projects/x")
    assert caught.value.code == "not_found"
    assert caught.value.message == "Project x not found"
    assert caught.value.details == {"a": 1}
    assert caught.value.request_id == "req_abc"
    assert isinstance(caught.value, LampionAPIError)


def test_gives_up_after_the_retries() -> None:
    limited = {"success": False, "error": {"code": "rate_limit_exceeded", "message": "slow down"}}
    transport, seen = scripted(
        *[httpx.Response(429, headers={"Retry-After": "0"}, json=limited)] * 4
    )
    with pytest.raises(RateLimitError):
        transport.request("GET", "/v1/plans")
    assert len(seen) == 4
    assert "Idempotency-Key" not in seen[0].headers  # only creates carry one


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_idempotent_requests_retry_a_503(method: str) -> None:
    transport, seen = scripted(
        httpx.Response(503, headers={"Retry-After": "0"}, json={}),
        httpx.Response(204),
    )
    assert transport.request(method, "/v1/projects/prj-1") is None
    assert len(seen) == 2


def test_creates_retry_a_503_with_the_same_key_after_retry_after() -> None:
    transport, seen = scripted(
        httpx.Response(503, headers={"Retry-After": "1"}, json={}),
        httpx.Response(201, json={"id": "prj-1"}),
    )
    started = time.monotonic()
    assert transport.request("POST", "/v1/projects", json={"name": "x"}) == {"id": "prj-1"}
    assert time.monotonic() - started >= 1.0
    assert len({r.headers["Idempotency-Key"] for r in seen}) == 1


@pytest.mark.parametrize(
    ("method", "idempotent"), [("PATCH", True), ("POST", False)], ids=["patch", "unkeyed-post"]
)
def test_a_503_is_not_repeated_when_repeating_is_unsafe(method: str, idempotent: bool) -> None:
    unavailable = {"success": False, "error": {"code": "service_unavailable", "message": "x"}}
    transport, seen = scripted(
        httpx.Response(503, headers={"Retry-After": "0"}, json=unavailable),
        httpx.Response(200, json={}),
    )
    with pytest.raises(LampionAPIError) as caught:
        transport.request(method, "/v1/projects/prj-1/endpoints/ep-1", idempotent=idempotent)
    assert caught.value.code == "service_unavailable"
    assert len(seen) == 1


def test_a_429_is_always_retried() -> None:
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "0"}, json={}),
        httpx.Response(200, json={"id": "ep-1"}),
    )
    assert transport.request("PATCH", "/v1/x", json={}) == {"id": "ep-1"}
    assert len(seen) == 2


def test_without_retry_after_the_backoff_grows() -> None:
    from lampion.client.transport import _delay

    bare = httpx.Response(503)
    assert [_delay(bare, n) for n in range(3)] == [0.5, 1.0, 2.0]
    assert _delay(httpx.Response(503, headers={"Retry-After": "7"}), 0) == 7.0
