"""Resources, written once: each method describes a call; the sync client runs it at once,
the async one returns an awaitable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter

from lampion.client.errors import ConflictError, NotFoundError
from lampion.client.transport import AsyncTransport, SyncTransport, settings
from lampion.schemas.branches import Branch, BranchCreated
from lampion.schemas.endpoints import Endpoint, EndpointState
from lampion.schemas.projects import Project, ProjectCreated


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    result: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    tolerate: type[Exception] | None = None
    """An API error that means "nothing to do" (--if-exists, --if-not-exists)."""


def _p(value: str) -> str:
    return quote(value, safe="")


class _Resource:
    def __init__(self, run: Callable[[Call], Any]):
        self._run = run


class Projects(_Resource):
    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/v1/projects", list[Project], {"params": filters}))

    def create(self, name: str, region: str | None = None, pg_version: int | None = None) -> Any:
        body = {k: v for k, v in {"name": name, "region": region, "pg_version": pg_version}.items()
                if v is not None}  # fmt: skip
        return self._run(Call("POST", "/v1/projects", ProjectCreated, {"json": body}))

    def get(self, project_id: str) -> Any:
        return self._run(Call("GET", f"/v1/projects/{_p(project_id)}", Project))

    def delete(self, project_id: str, if_exists: bool = False) -> Any:
        return self._run(
            Call("DELETE", f"/v1/projects/{_p(project_id)}",
                 tolerate=NotFoundError if if_exists else None)
        )  # fmt: skip


class Branches(_Resource):
    def list(self, project_id: str) -> Any:
        return self._run(Call("GET", f"/v1/projects/{_p(project_id)}/branches", list[Branch]))

    def get(self, project_id: str, branch: str) -> Any:
        """By id or by name."""
        return self._run(
            Call("GET", f"/v1/projects/{_p(project_id)}/branches/{_p(branch)}", Branch)
        )

    def create(
        self, project_id: str, name: str, parent: str | None = None, if_not_exists: bool = False
    ) -> Any:
        body = {"name": name, **({"parent_id": parent} if parent else {})}
        return self._run(
            Call("POST", f"/v1/projects/{_p(project_id)}/branches", BranchCreated,
                 {"json": body}, tolerate=ConflictError if if_not_exists else None)
        )  # fmt: skip

    def delete(self, project_id: str, branch: str, if_exists: bool = False) -> Any:
        return self._run(
            Call("DELETE", f"/v1/projects/{_p(project_id)}/branches/{_p(branch)}",
                 tolerate=NotFoundError if if_exists else None)
        )  # fmt: skip


class Endpoints(_Resource):
    def list(self, project_id: str) -> Any:
        return self._run(Call("GET", f"/v1/projects/{_p(project_id)}/endpoints", list[Endpoint]))

    def get(self, project_id: str, endpoint_id: str) -> Any:
        path = f"/v1/projects/{_p(project_id)}/endpoints/{_p(endpoint_id)}"
        return self._run(Call("GET", path, Endpoint))

    def suspend(self, project_id: str, endpoint_id: str) -> Any:
        path = f"/v1/projects/{_p(project_id)}/endpoints/{_p(endpoint_id)}/suspend"
        return self._run(Call("POST", path, EndpointState))

    def resume(self, project_id: str, endpoint_id: str) -> Any:
        path = f"/v1/projects/{_p(project_id)}/endpoints/{_p(endpoint_id)}/resume"
        return self._run(Call("POST", path, EndpointState))

    def update(self, project_id: str, endpoint_id: str, **changes: Any) -> Any:
        path = f"/v1/projects/{_p(project_id)}/endpoints/{_p(endpoint_id)}"
        return self._run(Call("PATCH", path, Endpoint, {"json": changes}))


def _parse(call: Call, data: Any) -> Any:
    if call.result is None or data is None:
        return data
    return TypeAdapter(call.result).validate_python(data)


def _with_database(connection_string: str, database: str | None, role: str | None) -> str:
    if database:
        head, _, tail = connection_string.partition("?")
        endpoint = head.rsplit("/", 1)[1].split(".", 1)[0]
        connection_string = f"{head.rsplit('/', 1)[0]}/{endpoint}.{_p(database)}?{tail}"
    if role:
        scheme, _, rest = connection_string.partition("://")
        connection_string = f"{scheme}://{_p(role)}@{rest.split('@', 1)[1]}"
    return connection_string


class Lampion:
    """The synchronous client."""

    def __init__(self, api_url: str | None = None, api_key: str | None = None, retries: int = 4):
        self._transport = SyncTransport(*settings(api_url, api_key), retries=retries)
        self.projects = Projects(self._run)
        self.branches = Branches(self._run)
        self.endpoints = Endpoints(self._run)

    def _run(self, call: Call) -> Any:
        try:
            data = self._transport.request(call.method, call.path, **call.kwargs)
        except Exception as exc:
            if call.tolerate is not None and isinstance(exc, call.tolerate):
                return None
            raise
        return _parse(call, data)

    def resolve_project(self, ref: str) -> str:
        """A project id from an id or a unique name."""
        if ref.startswith("prj-"):
            return ref
        matches = self.projects.list(name=ref)
        if len(matches) != 1:
            raise NotFoundError(404, "not_found", f"{len(matches)} projects are named {ref!r}")
        return str(matches[0].id)

    def connection_string(
        self,
        project: str,
        branch: str | None = None,
        database: str | None = None,
        role: str | None = None,
    ) -> str:
        project_id = self.resolve_project(project)
        endpoints = self.endpoints.list(project_id)
        if branch is None:
            branch_id = next(b.id for b in self.branches.list(project_id) if b.is_primary)
        else:
            branch_id = self.branches.get(project_id, branch).id
        endpoint = next(e for e in endpoints if e.branch_id == branch_id)
        return _with_database(endpoint.connection_string, database, role)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Lampion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncLampion:
    """The asynchronous client: the same resources, awaited."""

    def __init__(self, api_url: str | None = None, api_key: str | None = None, retries: int = 4):
        self._transport = AsyncTransport(*settings(api_url, api_key), retries=retries)
        self.projects = Projects(self._run)
        self.branches = Branches(self._run)
        self.endpoints = Endpoints(self._run)

    def _run(self, call: Call) -> Awaitable[Any]:
        async def run() -> Any:
            try:
                data = await self._transport.request(call.method, call.path, **call.kwargs)
            except Exception as exc:
                if call.tolerate is not None and isinstance(exc, call.tolerate):
                    return None
                raise
            return _parse(call, data)

        return run()

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncLampion:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
