"""The OpenAPI document, completed in one place: every operation documents the error model for
each status it can return, and the headers every response carries."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lampion.api.responses import STATUS_TEXT
from lampion.services import ratelimit

_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_ALWAYS = {"X-Request-Id": "The request's id", "X-Lampion-Version": "The server's version"}
_PAGES = {
    "X-Total-Count": "Items across all pages",
    "Link": 'RFC 8288 links: rel="first", "last", "next", "prev"',
}


def _status_text(status: str) -> str:
    return STATUS_TEXT.get(int(status), "Error") if status.isdigit() else "Error"


def _headers(names: dict[str, str]) -> dict[str, Any]:
    return {n: {"description": d, "schema": {"type": "string"}} for n, d in names.items()}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in schema["paths"].values():
                for method, operation in operations.items():
                    _complete(method, operation)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    authenticated = bool(operation.get("security"))
    wanted = {"400", "500", "503"}
    if authenticated:
        wanted |= {"401", "429"}
    if method != "get":
        wanted |= {"507"}
    if method == "post" and authenticated:
        wanted |= {"409", "422"}
    if "422" in responses and method != "post":
        del responses["422"]  # FastAPI's own validation model: ours are 400s
    for status in wanted | {s for s in responses if s[0] in "45"}:
        entry = responses.setdefault(status, {"description": _status_text(status)})
        entry["content"] = {"application/json": {"schema": _ERROR}}
        if status == "422" and method == "post":
            entry["description"] = STATUS_TEXT[422]
    is_list = any(p.get("name") == "page" for p in operation.get("parameters", []))
    for status, entry in responses.items():
        headers = dict(_ALWAYS)
        if authenticated:
            headers |= ratelimit.HEADERS
        if is_list and status.startswith("2"):
            headers |= _PAGES
        if status in ("429", "503"):
            headers[ratelimit.RETRY_AFTER] = "Seconds to wait"
        entry.setdefault("headers", {}).update(_headers(headers))
