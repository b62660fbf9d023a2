"""Pages from Jinja2 templates (autoescaped: every user-supplied string renders as text), and
the API's errors shown with its message and request id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lampion import __version__
from lampion.client import LampionAPIError
from lampion.console.viewer import Viewer

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["version"] = __version__


def is_fragment(request: Request) -> bool:
    """An htmx request wants the part of the page it swaps, not the whole page."""
    return request.headers.get("HX-Request") == "true"


def page(
    request: Request, template: str, viewer: Viewer | None, *, status_code: int = 200,
    **context: Any,
) -> HTMLResponse:  # fmt: skip
    return templates.TemplateResponse(
        request, template, {"viewer": viewer, **context}, status_code=status_code
    )


def api_error(request: Request, viewer: Viewer | None, error: LampionAPIError) -> HTMLResponse:
    """The API's refusal as the console shows it: in the page's error area for htmx, else as
    a page. Its status is the API's, so scripts and tests read the same answer."""
    context = {"error": error}
    if is_fragment(request):
        response = page(request, "_error.html", viewer, status_code=error.status_code, **context)
        response.headers["HX-Retarget"] = "#errors"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return page(request, "error.html", viewer, status_code=error.status_code, **context)
