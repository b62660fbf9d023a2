"""The clients: `Lampion` runs each call at once, `AsyncLampion` returns awaitables. Both are
one `Client` in two modes, so every resource and lookup is written once and typed in both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx

from lampion.client.binding import Async, Described, M, Resource, Run, Sync, operation, unrun
from lampion.client.calls import Flow, segment
from lampion.client.errors import NotFoundError
from lampion.client.resources import (
    ApiKeys,
    Branches,
    Data,
    Databases,
    Endpoints,
    Extensions,
    Projects,
    Roles,
    Usage,
    Webhooks,
)
from lampion.client.runners import AsyncRunner, SyncRunner
from lampion.client.transport import AsyncTransport, SyncTransport, settings


class Client(Resource[M]):
    """The API's resources, and the answers that take several calls."""

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.projects: Projects[M] = Projects(run)
        self.branches: Branches[M] = Branches(run)
        self.endpoints: Endpoints[M] = Endpoints(run)
        self.databases: Databases[M] = Databases(run)
        self.roles: Roles[M] = Roles(run)
        self.extensions: Extensions[M] = Extensions(run)
        self.webhooks: Webhooks[M] = Webhooks(run)
        self.api_keys: ApiKeys[M] = ApiKeys(run)
        self.usage: Usage[M] = Usage(run)
        self.data: Data[M] = Data(run)

    @operation
    def resolve_project(self, ref: str) -> Flow[str]:
        """A project id from an id or a unique name."""
        if ref.startswith("prj-"):
            return ref
        matches = yield from _steps.projects.list(name=ref)
        if len(matches) != 1:
            raise NotFoundError(404, "not_found", f"{len(matches)} projects are named {ref!r}")
        return matches[0].id

    @operation
    def endpoint_of(self, project: str, branch: str | None = None) -> Flow[tuple[str, str]]:
        """(project id, endpoint id) of a branch (id or name; default the primary)."""
        project_id = yield from _steps.resolve_project(project)
        branches = yield from _steps.branches.list(project_id)
        chosen = next(
            (b for b in branches if (b.is_primary if branch is None else branch in (b.id, b.name))),
            None,
        )
        if chosen is None or chosen.endpoint_id is None:
            raise NotFoundError(404, "not_found", f"Branch {branch} not found")
        return project_id, chosen.endpoint_id

    @operation
    def connection_string(
        self, project: str, *, branch: str | None = None, database: str | None = None,
        role: str | None = None,
    ) -> Flow[str]:  # fmt: skip
        """A branch's connection string (default the primary branch), optionally for another
        database or role (a role's password is not included)."""
        project_id = yield from _steps.resolve_project(project)
        endpoints = yield from _steps.endpoints.list(project_id)
        if branch is None:
            branches = yield from _steps.branches.list(project_id)
            branch_id = next(b.id for b in branches if b.is_primary)
        else:
            branch_id = (yield from _steps.branches.get(project_id, branch)).id
        endpoint = next(e for e in endpoints if e.branch_id == branch_id)
        return _with_database(endpoint.connection_string, database, role)


_steps: Client[Described] = Client(unrun)
"""The client's operations as steps, for flows to compose."""


def _with_database(connection_string: str, database: str | None, role: str | None) -> str:
    if database:
        head, _, tail = connection_string.partition("?")
        base, _, path = head.rpartition("/")
        endpoint, dot, _ = path.partition(".")
        routing = f"{endpoint}." if dot and endpoint.startswith("ep-") else ""  # dbname form
        connection_string = f"{base}/{routing}{segment(database)}?{tail}"
    if role:
        scheme, _, rest = connection_string.partition("://")
        connection_string = f"{scheme}://{segment(role)}@{rest.split('@', 1)[1]}"
    return connection_string


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Lampion(Client[Sync]):
    """The synchronous client (LAMPION_API_URL and LAMPION_API_KEY by default)."""

    def __init__(
        self, *, api_url: str | None = None, api_key: str | None = None, retries: int = 4
    ) -> None:
        self._transport = SyncTransport(*settings(api_url, api_key), retries=retries)
        super().__init__(SyncRunner(self._transport))

    def dump(
        self, project: str, target: BinarySink, *, branch: str | None = None,
        database: str = "postgres", table: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:  # fmt: skip
        """Streams pg_dump into the binary file ``target``; returns the bytes written."""
        project_id, endpoint_id = self.endpoint_of(project, branch)
        path = f"/v1/projects/{segment(project_id)}/endpoints/{segment(endpoint_id)}/dump"
        params = {"database": database, **({"table": table} if table else {})}
        written = 0
        for chunk in self._transport.download(path, params):
            target.write(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written)
        return written

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Lampion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncLampion(Client[Async]):
    """The asynchronous client: the same resources, awaited. ``transport`` reaches the API
    another way than over the network (the console and the MCP server call the app they
    run in through ``httpx.ASGITransport``)."""

    def __init__(
        self, *, api_url: str | None = None, api_key: str | None = None, retries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        self._transport = AsyncTransport(
            *settings(api_url, api_key), retries=retries, transport=transport
        )
        super().__init__(AsyncRunner(self._transport))

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncLampion:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
