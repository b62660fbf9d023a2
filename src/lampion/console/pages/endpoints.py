"""A branch's endpoint on the Branches tab: its live status badge (polled), suspend and
resume, compute units and auto-suspend, the connection pooler, and the IP allowlist."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

import lampion.console.forms as forms
from lampion.client import NotFoundError
from lampion.console.pages.project import branches_section
from lampion.console.render import page
from lampion.console.viewer import ViewerDep

router = APIRouter()

STOP_POLLING = 286  # htmx stops an `every` trigger on this status

_ENDPOINT = "/console/projects/{project_id}/endpoints/{endpoint_id}"


def allowlist_entries(text: str) -> list[str]:
    """One address or CIDR per line (commas and spaces separate too)."""
    return [entry for entry in re.split(r"[\s,]+", text) if entry]


@router.get(f"{_ENDPOINT}/status", response_class=HTMLResponse)
async def endpoint_status(
    request: Request, viewer: ViewerDep, project_id: str, endpoint_id: str
) -> Response:
    """The badge, polled; an endpoint deleted meanwhile shows so and is polled no more."""
    try:
        endpoint = await viewer.api.endpoints.get(project_id, endpoint_id)
    except NotFoundError:
        gone = {"id": endpoint_id, "status": "deleted"}
        return page(
            request, "_endpoint_status.html", viewer, project_id=project_id, endpoint=gone,
            status_code=STOP_POLLING,
        )  # fmt: skip
    return page(request, "_endpoint_status.html", viewer, project_id=project_id, endpoint=endpoint)


@router.post(f"{_ENDPOINT}/suspend", response_class=HTMLResponse)
async def suspend(
    request: Request, viewer: ViewerDep, project_id: str, endpoint_id: str
) -> Response:
    state = await viewer.api.endpoints.suspend(project_id, endpoint_id)
    return page(request, "_endpoint_status.html", viewer, project_id=project_id, endpoint=state)


@router.post(f"{_ENDPOINT}/resume", response_class=HTMLResponse)
async def resume(
    request: Request, viewer: ViewerDep, project_id: str, endpoint_id: str
) -> Response:
    state = await viewer.api.endpoints.resume(project_id, endpoint_id)
    return page(request, "_endpoint_status.html", viewer, project_id=project_id, endpoint=state)


@router.post(f"{_ENDPOINT}/settings", response_class=HTMLResponse)
async def update_settings(
    request: Request, viewer: ViewerDep, project_id: str, endpoint_id: str,
    compute_units: Annotated[str, Form()] = "", auto_suspend_seconds: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    await viewer.api.endpoints.update(
        project_id, endpoint_id, compute_units=forms.number("compute_units", compute_units),
        auto_suspend_seconds=forms.whole_number("auto_suspend_seconds", auto_suspend_seconds),
    )  # fmt: skip
    return await branches_section(request, viewer, project_id, notice="Endpoint settings saved.")


@router.post(f"{_ENDPOINT}/allowlist", response_class=HTMLResponse)
async def update_allowlist(
    request: Request, viewer: ViewerDep, project_id: str, endpoint_id: str,
    allowlist: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    await viewer.api.endpoints.set_allowlist(project_id, endpoint_id, allowlist_entries(allowlist))
    return await branches_section(request, viewer, project_id, notice="Allowlist saved.")


@router.post(f"{_ENDPOINT}/pooler", response_class=HTMLResponse)
async def update_pooler(
    request: Request, viewer: ViewerDep, project_id: str, endpoint_id: str,
    pooler_enabled: Annotated[str, Form()] = "", pooler_mode: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Pooled connections on or off (an unticked box sends nothing) and the pool mode."""
    await viewer.api.endpoints.update(
        project_id, endpoint_id, pooler_enabled=pooler_enabled == "on",
        pooler_mode=pooler_mode or None,
    )  # fmt: skip
    return await branches_section(request, viewer, project_id, notice="Pooler settings saved.")
