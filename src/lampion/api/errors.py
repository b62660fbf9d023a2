"""Every error leaves as the seed-001 body; nothing internal is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lampion.api import context, faults
from lampion.errors import LampionError, code_for_status
from lampion.store.types import utcnow


def error_body(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details or {}},
        "metadata": {
            "request_id": context.request_id.get(),
            "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        },
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(error_body(status, code, message, details)),
        status_code=status,
        headers=headers,
    )


def lampion_error_response(exc: LampionError, data_dir: Path | None = None) -> JSONResponse:
    exc = faults.remapped(exc, data_dir)
    headers = dict(exc.headers)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(exc.status_code, exc.code, exc.message, exc.details, headers or None)


def data_dir_of(app: object) -> Path | None:
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    return runtime.settings.data_dir if runtime is not None else None


async def _lampion_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LampionError)
    return lampion_error_response(exc, data_dir_of(request.app))


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return error_response(400, "invalid_request", "Request body is not valid JSON")
        # Never echo the input back: it may be a password.
        errors.append(
            {
                "field": _field(error.get("loc", ())),
                "message": error.get("msg", "invalid"),
                "type": error.get("type", ""),
            }
        )
    fields = ", ".join(e["field"] for e in errors)
    return error_response(400, "invalid_request", f"Invalid request: {fields}", {"errors": errors})


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "No such route", 405: "Method not allowed on this route"}
    message = messages.get(exc.status_code) or str(exc.detail)
    return error_response(
        exc.status_code,
        code_for_status(exc.status_code),
        message,
        headers=dict(exc.headers) if exc.headers else None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(LampionError, _lampion_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
