"""Who is looking: the signed-in session behind a console request, with a client that acts as
its key, and the checks every console write passes (same origin, CSRF token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from lampion.api.deps import RuntimeDep
from lampion.client import AsyncLampion
from lampion.console.client import api_for
from lampion.console.security import CSRF_FIELD, CSRF_HEADER, same_origin, same_token
from lampion.services import console_sessions
from lampion.services.console_sessions import SignedIn

COOKIE = "lampion_console"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class CsrfRefused(Exception):
    """A write without this session's CSRF token, or from another origin."""


@dataclass
class Viewer:
    session: SignedIn
    api: AsyncLampion

    @property
    def can_write(self) -> bool:
        return self.session.permission != "read_only"

    @property
    def is_admin(self) -> bool:
        return self.session.permission == "admin"

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


async def _presented_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def check_origin(request: Request) -> None:
    if request.method in _SAFE_METHODS:
        return
    if not same_origin(
        request.headers.get("origin"), request.headers.get("host"), request.url.scheme
    ):
        raise CsrfRefused


async def current_viewer(request: Request, runtime: RuntimeDep) -> AsyncIterator[Viewer]:
    signed_in = await console_sessions.current(
        runtime.sessions, runtime.secrets, request.cookies.get(COOKIE)
    )
    if signed_in is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(quote(target, safe="/?=&"))
    if request.method not in _SAFE_METHODS:
        check_origin(request)
        if not same_token(await _presented_csrf(request), signed_in.csrf_token):
            raise CsrfRefused
    api = api_for(request.app, signed_in.api_key)
    viewer = Viewer(session=signed_in, api=api)
    request.state.console_viewer = viewer  # for the page an API error renders
    try:
        yield viewer
    finally:
        await api.close()


def viewer_of(request: Request) -> Viewer | None:
    """The signed-in viewer of a request whose page was being made, if any."""
    viewer = getattr(request.state, "console_viewer", None)
    return viewer if isinstance(viewer, Viewer) else None


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
