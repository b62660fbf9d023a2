from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from lampion.api.deps import PrincipalDep, RuntimeDep
from lampion.api.listing import Paging, paging_for, respond
from lampion.api.responses import errors
from lampion.schemas.projects import Project, ProjectCreate, ProjectCreated
from lampion.services import projects

router = APIRouter(prefix="/v1/projects", tags=["Projects"])


@router.get("", response_model=list[Project], responses=errors(403))
async def list_projects(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: PrincipalDep,
    paging: Paging = Depends(paging_for(*projects.ORDERING.sortable)),
    name: str | None = None,
    region: str | None = None,
) -> list[Project]:
    """List all projects (filters: `name`, `region`; sort: `name`, `region`, `pg_version`,
    `created_at`)."""
    page = await projects.list_projects(rt, principal, paging, name=name, region=region)
    return respond(request, response, page, paging)


@router.post(
    "",
    response_model=ProjectCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 503),
)
async def create_project(
    body: ProjectCreate, rt: RuntimeDep, principal: PrincipalDep
) -> ProjectCreated:
    """Create a project: provisions a compute and returns a ready-to-use connection string."""
    return await projects.create(rt, principal, body)


@router.get("/{project_id}", response_model=Project, responses=errors(404))
async def get_project(project_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Project:
    """Get a project by id."""
    return await projects.get(rt, principal, project_id)


@router.delete(
    "/{project_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(403, 404, 409),
)
async def delete_project(project_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    """Delete a project and all its data. Irreversible."""
    await projects.delete_project(rt, principal, project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
