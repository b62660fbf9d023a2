"""Plans: prices and the limits enforced where resources are created."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lampion.errors import Forbidden, InvalidRequest
from lampion.schemas.plans import Plan as PlanOut
from lampion.store.engine import Sessions
from lampion.store.models import Branch, Org, Plan, Project
from lampion.store.paging import Ordering, Page, Paging, page_of

ORDERING = Ordering(
    natural=(Plan.position, Plan.name),
    sortable={
        "name": Plan.name,
        "cu_hour_usd": Plan.cu_hour_usd,
        "max_projects": Plan.max_projects,
    },
)


async def list_plans(sessions: Sessions, paging: Paging) -> Page[PlanOut]:
    async with sessions() as session:
        page = await page_of(session, select(Plan), paging, ORDERING)
        return page.map(PlanOut.model_validate)


async def plan_names(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Plan.name).order_by(Plan.position))).all())


async def validate_name(session: AsyncSession, name: str) -> None:
    names = await plan_names(session)
    if name not in names:
        raise InvalidRequest(
            f"Unknown plan {name!r}", details={"field": "plan", "allowed_values": names}
        )


async def plan_of(session: AsyncSession, org_id: str) -> Plan:
    plan = await session.scalar(
        select(Plan).join(Org, Org.plan == Plan.name).where(Org.id == org_id)
    )
    if plan is None:
        raise InvalidRequest("The organization's plan no longer exists")
    return plan


def _exceeded(plan: Plan, limit: str, value: float, message: str) -> Forbidden:
    return Forbidden(
        message,
        details={"code": "plan_limit_exceeded", "plan": plan.name, "limit": limit, "value": value},
    )


async def check_new_project(session: AsyncSession, org_id: str) -> None:
    await session.scalar(select(Org.id).where(Org.id == org_id).with_for_update())
    plan = await plan_of(session, org_id)
    count = await session.scalar(
        select(func.count()).select_from(Project).where(Project.org_id == org_id)
    )
    if (count or 0) >= plan.max_projects:
        raise _exceeded(
            plan,
            "max_projects",
            plan.max_projects,
            f"The {plan.name} plan allows {plan.max_projects} projects; delete one or upgrade",
        )


async def check_new_branch(session: AsyncSession, org_id: str, project_id: str) -> None:
    plan = await plan_of(session, org_id)
    count = await session.scalar(
        select(func.count()).select_from(Branch).where(Branch.project_id == project_id)
    )
    if (count or 0) >= plan.max_branches_per_project:
        raise _exceeded(
            plan,
            "max_branches_per_project",
            plan.max_branches_per_project,
            f"The {plan.name} plan allows {plan.max_branches_per_project} branches per project",
        )


async def check_compute_units(session: AsyncSession, org_id: str, compute_units: float) -> None:
    plan = await plan_of(session, org_id)
    if compute_units > plan.max_compute_units:
        raise _exceeded(
            plan,
            "max_compute_units",
            plan.max_compute_units,
            f"The {plan.name} plan allows up to {plan.max_compute_units:g} compute units",
        )
