"""Any other path under /console: a page that says so (the API's 404 is JSON)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lampion.client import NotFoundError
from lampion.console.render import page

router = APIRouter()


@router.api_route("/console/{path:path}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def not_found(request: Request, path: str) -> Response:
    error = NotFoundError(404, "not_found", "There is no such page in the console")
    return page(request, "error.html", None, status_code=404, error=error)
