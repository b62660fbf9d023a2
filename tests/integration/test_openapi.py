"""The OpenAPI document describes every route completely, and its examples are valid."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from fastapi import FastAPI

from tests.support.apps import client_for

ERROR = "#/components/schemas/ErrorBody"


async def _spec(app: FastAPI) -> dict[str, Any]:
    async with client_for(app) as client:
        spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    return spec


async def test_every_operation_documents_errors_and_headers(app: FastAPI) -> None:
    spec = await _spec(app)
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) > 40
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for status, response in responses.items():
            assert "X-Request-Id" in response["headers"], where
            if status[0] in "45":
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR, (
                    where,
                    status,
                )
        if operation.get("security"):
            assert {"401", "429", "500"} <= set(responses), where
            ok = next(s for s in responses if s.startswith("2"))
            assert "X-RateLimit-Remaining" in responses[ok]["headers"], where
        if any(p["name"] == "page" for p in operation.get("parameters", [])):
            assert "Link" in responses["200"]["headers"], where
        if method == "post" and operation.get("security"):
            assert "idempotency_key_reused" in responses["422"]["description"], where


def _examples(schema: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    found: list[tuple[str, Any, Any]] = []
    if isinstance(schema, dict):
        for example in (
            schema.get("examples", []) if isinstance(schema.get("examples"), list) else []
        ):
            found.append((path, example, schema))
        for key, value in schema.items():
            if key != "examples":
                found += _examples(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _examples(value, f"{path}/{index}")
    return found


async def test_examples_validate_against_their_schemas(app: FastAPI) -> None:
    spec = await _spec(app)
    examples = _examples(spec["components"]["schemas"])
    assert len(examples) > 30
    resolver = {"components": spec["components"]}
    for where, example, schema in examples:
        checked = {k: v for k, v in schema.items() if k != "examples"}
        jsonschema_rs.validate({**checked, **resolver}, example)
        assert example is not None, where
