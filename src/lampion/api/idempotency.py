"""`Idempotency-Key` on POST requests: a retry replays the first response exactly and
creates nothing; a concurrent retry gets 409; the same key with another body gets 422."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lampion.api.credentials import presented_key
from lampion.api.errors import error_body
from lampion.errors import LampionError
from lampion.services import idempotency

_NOT_KEPT = {401, 409, 429}  # answers that say "try again", not "this is the result"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        key_header = headers.get(b"idempotency-key")
        if scope["type"] != "http" or scope["method"] != "POST" or key_header is None:
            await self.app(scope, receive, send)
            return
        key = key_header.decode("latin-1").strip()
        presented = presented_key(Headers(scope=scope))
        if presented is None:
            await self.app(scope, receive, send)  # authentication will answer 401
            return
        if not key or len(key) > idempotency.MAX_KEY_LENGTH:
            await _send_error(
                send, 400, "invalid_request", "Idempotency-Key must be 1 to 255 characters"
            )
            return
        runtime = scope["app"].state.runtime
        body = await _read_body(receive)
        principal = idempotency.principal_of(presented)
        route = f"POST {scope['path']}"
        try:
            replay = await idempotency.claim(
                runtime.sessions, runtime.secrets, principal, key, route, body
            )
        except LampionError as exc:
            await _send_error(send, exc.status_code, exc.code, exc.message, exc.details)
            return
        if replay is not None:
            await _send(send, replay.status_code, replay.content_type, replay.body, replayed=True)
            return
        captured = _Captured()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = message["status"]
                for name, value in message.get("headers", []):
                    if name == b"content-type":
                        captured.content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                captured.body += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, _replay_body(body), capture)
        finally:
            if captured.status >= 500 or captured.status in _NOT_KEPT:
                await idempotency.release(runtime.sessions, principal, key)
            else:
                await idempotency.complete(
                    runtime.sessions,
                    runtime.secrets,
                    principal,
                    key,
                    captured.status,
                    captured.content_type,
                    bytes(captured.body),
                )


@dataclass
class _Captured:
    status: int = 500
    content_type: str | None = None
    body: bytearray = field(default_factory=bytearray)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send(
    send: Send, status: int, content_type: str | None, body: bytes, replayed: bool = False
) -> None:
    headers = [(b"content-type", (content_type or "application/json").encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(
    send: Send, status: int, code: str, message: str, details: dict[str, object] | None = None
) -> None:
    body = json.dumps(error_body(status, code, message, details)).encode()
    await _send(send, status, "application/json", body)
