"""Requests with retries, with backoff honouring Retry-After: a 429 always (nothing was
done), a 503 when repeating the request is safe — GET, HEAD, PUT, DELETE, OPTIONS, and a
POST carrying an Idempotency-Key (every create does, the same on each retry, so a retry
never duplicates). A PATCH or an unkeyed POST answered 503 is not repeated."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from lampion.client.errors import LampionAPIError, from_response

IDEMPOTENT_METHODS = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
DEFAULT_URL = "http://127.0.0.1:8080"


def settings(url: str | None, key: str | None) -> tuple[str, str]:
    url = url or os.environ.get("LAMPION_API_URL") or DEFAULT_URL
    key = key or os.environ.get("LAMPION_API_KEY")
    if not key:
        raise ValueError("No API key: pass api_key= or set LAMPION_API_KEY")
    return url.rstrip("/"), key


def _headers(key: str, method: str, idempotent: bool) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "lampion-client/1"}
    if method == "POST" and idempotent:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


def _retried(response: httpx.Response, method: str, headers: dict[str, str]) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code != 503:
        return False
    return method.upper() in IDEMPOTENT_METHODS or "Idempotency-Key" in headers


def _delay(response: httpx.Response, attempt: int) -> float:
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        try:
            return min(60.0, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return min(30.0, 0.5 * 2.0**attempt)


def _result(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise from_response(response.status_code, body, response.headers.get("X-Request-Id"))
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


class SyncTransport:
    def __init__(self, url: str, key: str, retries: int = 4, timeout: float = 300):
        self.url, self.key, self.retries = url, key, retries
        self.http = httpx.Client(base_url=url, timeout=timeout)

    def request(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> Any:
        headers = _headers(self.key, method, idempotent)
        for attempt in range(self.retries + 1):
            response = self.http.request(method, path, headers=headers, **kwargs)
            if not _retried(response, method, headers) or attempt == self.retries:
                return _result(response)
            time.sleep(_delay(response, attempt))
        raise LampionAPIError(0, "server_error", "unreachable")  # pragma: no cover

    def download(self, path: str, params: dict[str, str]) -> Iterator[bytes]:
        """A streamed answer's bytes (not retried: a retry would repeat what was read)."""
        headers = _headers(self.key, "GET", idempotent=False)
        with self.http.stream("GET", path, params=params, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                _result(response)
            yield from response.iter_bytes()

    def close(self) -> None:
        self.http.close()


class AsyncTransport:
    def __init__(
        self, url: str, key: str, retries: int = 4, timeout: float = 300,
        transport: httpx.AsyncBaseTransport | None = None,
    ):  # fmt: skip
        self.url, self.key, self.retries = url, key, retries
        self.http = httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport)

    async def request(
        self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any
    ) -> Any:
        headers = _headers(self.key, method, idempotent)
        for attempt in range(self.retries + 1):
            response = await self.http.request(method, path, headers=headers, **kwargs)
            if not _retried(response, method, headers) or attempt == self.retries:
                return _result(response)
            await asyncio.sleep(_delay(response, attempt))
        raise LampionAPIError(0, "server_error", "unreachable")  # pragma: no cover

    async def close(self) -> None:
        await self.http.aclose()
