"""Every response, success or error, follows the same conventions."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from lampion import __version__
from lampion.config import Settings
from tests.support.apps import client_for, make_settings, running_app


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["metadata"]["request_id"] == response.headers["X-Request-Id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["metadata"]["timestamp"])
    assert response.headers["X-Lampion-Version"] == __version__
    error: dict[str, object] = body["error"]
    return error


async def test_unknown_path_is_404(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/v1/nothing-here"), 404, "not_found")
    assert_error(await api.get("/nothing"), 404, "not_found")


async def test_wrong_method_is_405(api: httpx.AsyncClient) -> None:
    response = await api.put("/v1/projects")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


async def test_validation_error_shape(api: httpx.AsyncClient) -> None:
    error = assert_error(await api.post("/v1/projects", json={"name": 1}), 400, "invalid_request")
    assert error["details"] == {
        "errors": [
            {
                "field": "body.name",
                "message": "Input should be a valid string",
                "type": "string_type",
            }
        ]
    }


async def test_validation_error_never_echoes_input(api: httpx.AsyncClient) -> None:
    secret = "s3cr3t-value-" + "x" * 80
    response = await api.post("/v1/projects", json={"name": secret})
    assert_error(response, 400, "invalid_request")
    assert secret not in response.text


async def test_success_responses_carry_headers(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/projects")
    assert response.status_code == 200
    assert re.fullmatch(r"req_[a-z0-9]{20}", response.headers["X-Request-Id"])
    assert response.headers["X-Lampion-Version"] == __version__


async def test_request_id_is_taken_from_the_client(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/projects", headers={"X-Request-Id": "trace-abc.123"})
    assert response.headers["X-Request-Id"] == "trace-abc.123"
    odd = await api.get("/v1/projects", headers={"X-Request-Id": "bad id\twith junk"})
    assert odd.headers["X-Request-Id"].startswith("req_")


async def test_health_endpoints(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}
    assert ready.headers["X-Lampion-Version"] == __version__


async def test_unhandled_exception_is_a_bare_500(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app_settings = make_settings(
        settings.data_dir.parent / "data-boom",
        settings.template_root,
        reconcile_on_start=False,
    )

    async def explode() -> None:
        raise RuntimeError("SELECT secret FROM internals -- /srv/lampion/x.py line 3")

    async with running_app(app_settings) as app:
        app.add_api_route("/v1/boom", explode)
        async with client_for(app) as client:
            response = await client.get("/v1/boom")
    error = assert_error(response, 500, "server_error")
    assert error["message"] == "Internal server error"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert "x.py" not in response.text


async def test_openapi_documents_auth_and_errors(app: FastAPI) -> None:
    async with client_for(app) as client:
        spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schemes)
    create = spec["paths"]["/v1/projects"]["post"]
    assert {"400", "401", "201"} <= set(create["responses"])
    assert create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ErrorBody"
    )


async def test_cors_for_a_console_on_another_origin(settings: Settings) -> None:
    console = make_settings(
        settings.data_dir.parent / "data-cors",
        settings.template_root,
        cors_origins="https://console.example.com",
    )
    async with running_app(console) as app, client_for(app) as client:
        preflight = await client.options(
            "/v1/projects",
            headers={
                "Origin": "https://console.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,idempotency-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://console.example.com"
        simple = await client.get("/healthz", headers={"Origin": "https://console.example.com"})
        exposed = simple.headers["access-control-expose-headers"]
        for header in ("X-Total-Count", "Link", "X-RateLimit-Remaining", "X-Request-Id"):
            assert header in exposed
        other = await client.get("/healthz", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers
