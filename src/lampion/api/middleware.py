"""Request ids, version header, JSON bodies from ``curl -d``, access logs, ids no store can
hold (a NUL character) refused before any route sees them, and the last line of defence: an
infrastructure failure becomes its 503/507 (api.faults), anything else a bare 500 body,
never a traceback."""

from __future__ import annotations

import json
import re
import time
import traceback
from urllib.parse import parse_qsl

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lampion import __version__, ids
from lampion.api import context, faults
from lampion.api.errors import data_dir_of, error_body, lampion_error_response
from lampion.errors import InvalidRequest, NotFound

log = structlog.get_logger("lampion.access")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_FORM = b"application/x-www-form-urlencoded"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else ids.request_id()
        context.request_id.set(request_id)
        scope = _json_by_default(scope, headers)
        started = time.monotonic()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                rate = (scope.get("state") or {}).get("rate_limit_headers") or {}
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                    (b"x-lampion-version", __version__.encode()),
                    *((k.lower().encode(), v.encode()) for k, v in rate.items()),
                ]
            await send(message)

        try:
            refused = _unstorable(scope)
            if refused is not None:
                await lampion_error_response(refused)(scope, receive, send_with_headers)
                return
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
            fault = faults.unhandled(exc, data_dir_of(scope.get("app")))
            (log.warning if fault else log.error)(
                "request.fault" if fault else "request.unhandled",
                error_type=type(exc).__name__,
                error=str(exc)[:300] if fault else None,
                where=where,
                request_id=request_id,
            )
            if fault is not None and not response_started:
                await lampion_error_response(fault)(scope, receive, send_with_headers)
            elif not response_started:
                body = json.dumps(error_body(500, "server_error", "Internal server error"))
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body.encode()})
        finally:
            _observe(scope, status, time.monotonic() - started)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                request_id=request_id,
            )


def _unstorable(scope: Scope) -> NotFound | InvalidRequest | None:
    """A NUL character in the path names nothing that can exist (404, as a missing resource
    would); in a query parameter it is a 400 naming the parameter. Bodies are checked by
    their request models."""
    if "\x00" in scope["path"]:
        return NotFound()
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            field = name.replace("\x00", "")
            return InvalidRequest(
                f"Invalid request: {field} holds a NUL character", details={"field": field}
            )
    return None


def _json_by_default(scope: Scope, headers: dict[bytes, bytes]) -> Scope:
    """``curl -d '{...}'`` sends a form content type; under /v1 every body is JSON."""
    if scope["method"] not in _BODY_METHODS or not scope["path"].startswith("/v1/"):
        return scope
    content_type = headers.get(b"content-type", b"")
    if content_type and not content_type.startswith(_FORM):
        return scope
    rewritten = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    rewritten.append((b"content-type", b"application/json"))
    return {**scope, "headers": rewritten}


def _observe(scope: Scope, status: int, seconds: float) -> None:
    """Prometheus request metrics, labelled by route template (not the raw path)."""
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    if runtime is None:
        return
    route = scope.get("route")
    path = getattr(route, "path", None) or "unmatched"
    runtime.telemetry.observe_request(scope["method"], path, status, seconds)
