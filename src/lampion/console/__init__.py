"""The web console at /console: server-rendered pages (Jinja2 + htmx, Chart.js for charts,
all served from the package) that act through the public API as the signed-in key."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from lampion.client import AuthenticationError, LampionAPIError
from lampion.console.pages import (
    api_keys,
    endpoints,
    monitoring,
    not_found,
    project,
    projects,
    schema,
    settings,
    sign_in,
    sql,
    usage,
    webhooks,
)
from lampion.console.render import HERE, api_error, is_fragment, page
from lampion.console.security import ConsoleHeadersMiddleware
from lampion.console.viewer import CsrfRefused, SignInRequired, viewer_of

ROUTERS = [
    sign_in.router, projects.router, project.router, endpoints.router, sql.router,
    schema.router, monitoring.router, usage.router, settings.router, api_keys.router,
    webhooks.router,
]  # fmt: skip


def _to_sign_in(request: Request, next_path: str) -> Response:
    target = f"/console/sign-in?next={next_path}"
    if is_fragment(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return _to_sign_in(request, exc.next_path)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return page(request, "forbidden.html", None, status_code=403)


async def _api_error(request: Request, exc: Exception) -> Response:
    """What a page does with an API error it does not handle itself: shows it, with the
    API's message, status and request id (in #errors for htmx, else as a page)."""
    assert isinstance(exc, LampionAPIError)
    if isinstance(exc, AuthenticationError):  # the key was revoked under the session
        return _to_sign_in(request, "/console/projects")
    return api_error(request, viewer_of(request), exc)


def install(app: FastAPI) -> None:
    app.add_middleware(ConsoleHeadersMiddleware)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(LampionAPIError, _api_error)
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.include_router(not_found.router, include_in_schema=False)  # after every page
