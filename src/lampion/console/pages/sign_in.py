"""Signing in (an API key, or a one-time link from `lampion console-link`) and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lampion.api.deps import RuntimeDep
from lampion.console.render import page
from lampion.console.viewer import COOKIE, ViewerDep, check_origin
from lampion.errors import AuthenticationFailed
from lampion.services import console_sessions

router = APIRouter()


def _local(next_path: str | None) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    if next_path and next_path.startswith("/console/") and not next_path.startswith("//"):
        return next_path
    return "/console/projects"


def _signed_in(request: Request, token: str, next_path: str | None) -> Response:
    response = RedirectResponse(_local(next_path), status_code=303)
    response.set_cookie(
        COOKIE, token, max_age=int(console_sessions.SESSION_TTL.total_seconds()),
        path="/console", secure=request.url.scheme == "https", httponly=True, samesite="strict",
    )  # fmt: skip
    return response


@router.get("/console")
async def home() -> Response:
    return RedirectResponse("/console/projects", status_code=303)


@router.get("/console/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    return page(request, "sign_in.html", None, next_path=_local(next))


@router.post("/console/sign-in")
async def sign_in(
    request: Request, runtime: RuntimeDep, api_key: Annotated[str, Form()] = "",
    next_path: Annotated[str | None, Form()] = None,
) -> Response:  # fmt: skip
    check_origin(request)
    try:
        token = await console_sessions.sign_in(runtime.sessions, runtime.secrets, api_key)
    except AuthenticationFailed as exc:
        return page(
            request, "sign_in.html", None, status_code=401, message=exc.message,
            next_path=_local(next_path),
        )  # fmt: skip
    return _signed_in(request, token, next_path)


@router.get("/console/link", response_class=HTMLResponse)
async def link_page(request: Request) -> Response:
    """The link's token is in its fragment, which browsers never send (so it reaches no
    log); console.js puts it in the form. Opening the link (or a mail scanner fetching it)
    spends nothing; the POST does."""
    return page(request, "link.html", None)


@router.post("/console/link")
async def redeem_link(
    request: Request, runtime: RuntimeDep, token: Annotated[str, Form()] = ""
) -> Response:
    check_origin(request)
    try:
        session = await console_sessions.redeem_link(runtime.sessions, runtime.secrets, token)
    except AuthenticationFailed as exc:
        return page(request, "sign_in.html", None, status_code=401, message=exc.message)
    return _signed_in(request, session, None)


@router.post("/console/sign-out")
async def sign_out(request: Request, runtime: RuntimeDep, viewer: ViewerDep) -> Response:
    await console_sessions.sign_out(runtime.sessions, request.cookies.get(COOKIE))
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response
