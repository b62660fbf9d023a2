"""One signed POST to a receiver: no redirects followed, a timeout, the address pinned."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from lampion.webhooks import signing
from lampion.webhooks.ssrf import AddressPolicy, Refused


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(
    client: httpx.AsyncClient,
    policy: AddressPolicy,
    url: str,
    secret: str,
    payload: dict[str, Any],
    timestamp: int,
) -> Outcome:
    started = time.perf_counter()
    body = json.dumps(payload, separators=(",", ":")).encode()
    try:
        host, port, address = await policy.resolve(url)
    except Refused as exc:
        return Outcome(None, f"refused: {exc}", 0.0)
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Lampion-Webhooks/1",
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "X-Lampion-Event": str(payload["type"]),
        **signing.headers(secret, str(payload["id"]), timestamp, body),
    }
    try:
        response = await client.post(
            pinned, content=body, headers=headers, extensions={"sni_hostname": host}
        )
    except httpx.TimeoutException:
        return Outcome(None, "timed out", _ms(started))
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
    return Outcome(
        response.status_code,
        None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}",
        _ms(started),
        _retry_after(response.headers.get("retry-after")),
    )


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
