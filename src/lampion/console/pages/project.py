"""A project's Branches tab: its branches as a tree with their endpoints, and the branch
actions (create, at a point in time or WAL position too; rename; delete; reset to parent;
restore to a time or WAL position). Every action answers with the refreshed branches
section."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from lampion.client import AsyncLampion, NotFoundError
from lampion.compute.sizing import ALLOWED_COMPUTE_UNITS
from lampion.console.pages.branch_view import branch_tree, masked
from lampion.console.render import page, templates
from lampion.console.viewer import Viewer, ViewerDep
from lampion.schemas.projects import Project

router = APIRouter()
templates.env.filters["masked_secret"] = masked

TextField = Annotated[str, Form()]


async def _allowlist(api: AsyncLampion, project_id: str, endpoint_id: str) -> list[str]:
    """An endpoint's allowlist; none shown for one deleted since it was listed."""
    try:
        return await api.endpoints.allowlist(project_id, endpoint_id)
    except NotFoundError:
        return []


async def _section_context(viewer: Viewer, project: Project) -> dict[str, Any]:
    api = viewer.api
    branches, endpoints = await asyncio.gather(
        api.branches.list(project.id), api.endpoints.list(project.id)
    )
    allowlists = await asyncio.gather(*(_allowlist(api, project.id, e.id) for e in endpoints))
    tree = branch_tree(
        branches, endpoints, {e.id: a for e, a in zip(endpoints, allowlists, strict=True)}
    )
    return {
        "project": project, "tree": tree, "branches": branches,
        "compute_units": ALLOWED_COMPUTE_UNITS,
    }  # fmt: skip


async def branches_section(
    request: Request, viewer: Viewer, project_id: str, *, notice: str | None = None
) -> Response:
    """The branches section as it now is, for an htmx swap after an action."""
    project = await viewer.api.projects.get(project_id)
    context = await _section_context(viewer, project)
    return page(request, "_branches.html", viewer, notice=notice, **context)


def point_in_time(value: str) -> str | None:
    """A `datetime-local` input's value (no zone; the form says UTC) as RFC 3339; the API
    judges anything else and names the field."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.isoformat(timespec="seconds") + "Z"
    return moment.isoformat()


@router.get("/console/projects/{project_id}", response_class=HTMLResponse)
async def project_page(request: Request, viewer: ViewerDep, project_id: str) -> Response:
    project = await viewer.api.projects.get(project_id)
    context = await _section_context(viewer, project)
    return page(request, "project.html", viewer, notice=None, **context)


@router.post("/console/projects/{project_id}/branches", response_class=HTMLResponse)
async def create_branch(
    request: Request, viewer: ViewerDep, project_id: str, name: TextField = "",
    parent_id: TextField = "", at: TextField = "", lsn: TextField = "",
    expires_at: TextField = "", protected: TextField = "",
) -> Response:  # fmt: skip
    created = await viewer.api.branches.create(
        project_id, name, parent=parent_id or None, at=point_in_time(at),
        lsn=lsn.strip() or None, expires_at=point_in_time(expires_at),
        protected=protected == "on" or None,
    )  # fmt: skip
    notice = f"Branch {created.name} created." if created else None
    return await branches_section(request, viewer, project_id, notice=notice)


@router.post("/console/projects/{project_id}/branches/{branch_id}/delete")
async def delete_branch(
    request: Request, viewer: ViewerDep, project_id: str, branch_id: str
) -> Response:
    await viewer.api.branches.delete(project_id, branch_id)
    return await branches_section(request, viewer, project_id, notice="Branch deleted.")


@router.post("/console/projects/{project_id}/branches/{branch_id}/reset")
async def reset_branch(
    request: Request, viewer: ViewerDep, project_id: str, branch_id: str
) -> Response:
    branch = await viewer.api.branches.reset_to_parent(project_id, branch_id)
    notice = f"Branch {branch.name} reset to its parent."
    return await branches_section(request, viewer, project_id, notice=notice)


@router.post("/console/projects/{project_id}/branches/{branch_id}/restore")
async def restore_branch(
    request: Request, viewer: ViewerDep, project_id: str, branch_id: str, at: TextField = "",
    lsn: TextField = "", preserve_under_name: TextField = "",
) -> Response:  # fmt: skip
    """To a time or a WAL position of its own history; the API refuses neither or both."""
    branch = await viewer.api.branches.restore(
        project_id, branch_id, at=point_in_time(at), lsn=lsn.strip() or None,
        preserve_under_name=preserve_under_name.strip() or None,
    )  # fmt: skip
    notice = f"Branch {branch.name} restored."
    return await branches_section(request, viewer, project_id, notice=notice)


@router.post("/console/projects/{project_id}/branches/{branch_id}/settings")
async def update_branch(
    request: Request, viewer: ViewerDep, project_id: str, branch_id: str,
    expires_at: TextField = "", protected: TextField = "",
) -> Response:  # fmt: skip
    """The branch's expiry (blank: none) and protection, as the form now shows them."""
    expiry = point_in_time(expires_at)
    branch = await viewer.api.branches.update(
        project_id, branch_id, expires_at=expiry, clear_expiration=expiry is None,
        protected=protected == "on",
    )  # fmt: skip
    notice = f"Branch {branch.name} settings saved."
    return await branches_section(request, viewer, project_id, notice=notice)


@router.post("/console/projects/{project_id}/branches/{branch_id}/rename")
async def rename_branch(
    request: Request, viewer: ViewerDep, project_id: str, branch_id: str, name: TextField = ""
) -> Response:
    branch = await viewer.api.branches.update(project_id, branch_id, name=name)
    notice = f"Branch renamed to {branch.name}."
    return await branches_section(request, viewer, project_id, notice=notice)
