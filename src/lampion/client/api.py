"""Resources, written once: each method describes a call; the sync client runs it at once,
the async one returns an awaitable."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter

from lampion.client.errors import ConflictError, NotFoundError
from lampion.client.transport import AsyncTransport, SyncTransport, settings
from lampion.schemas.api_keys import ApiKey, ApiKeyCreated
from lampion.schemas.branches import Branch, BranchCreated
from lampion.schemas.endpoints import Endpoint, EndpointState
from lampion.schemas.metrics import LiveMetrics, OrgUsage, Snapshot
from lampion.schemas.metrics import Usage as UsageOut
from lampion.schemas.objects import Database, Extension, LogTail, Role, RoleCreated
from lampion.schemas.plans import Plan
from lampion.schemas.projects import Project, ProjectCreated
from lampion.schemas.sql import SchemaListing, SqlResponse
from lampion.schemas.webhooks import Delivery, TestSent, Webhook, WebhookCreated


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

    def allowlist(self, project_id: str, endpoint_id: str) -> Any:
        path = f"/v1/projects/{_p(project_id)}/endpoints/{_p(endpoint_id)}/allowlist"
        return self._run(Call("GET", path, list[str]))

    def set_allowlist(self, project_id: str, endpoint_id: str, entries: builtins.list[str]) -> Any:
        path = f"/v1/projects/{_p(project_id)}/endpoints/{_p(endpoint_id)}/allowlist"
        return self._run(Call("PUT", path, list[str], {"json": {"allowlist": entries}}))


def _ep(project_id: str, endpoint_id: str) -> str:
    return f"/v1/projects/{_p(project_id)}/endpoints/{_p(endpoint_id)}"


class Databases(_Resource):
    def list(self, project_id: str, endpoint_id: str) -> Any:
        return self._run(Call("GET", f"{_ep(project_id, endpoint_id)}/databases", list[Database]))

    def create(self, project_id: str, endpoint_id: str, name: str, owner: str | None = None) -> Any:
        body = {"name": name, **({"owner": owner} if owner else {})}
        path = f"{_ep(project_id, endpoint_id)}/databases"
        return self._run(Call("POST", path, Database, {"json": body}))

    def delete(self, project_id: str, endpoint_id: str, name: str) -> Any:
        return self._run(Call("DELETE", f"{_ep(project_id, endpoint_id)}/databases/{_p(name)}"))


class Roles(_Resource):
    def list(self, project_id: str, endpoint_id: str) -> Any:
        return self._run(Call("GET", f"{_ep(project_id, endpoint_id)}/roles", list[Role]))

    def create(
        self, project_id: str, endpoint_id: str, name: str, password: str | None = None,
        can_login: bool = True,
    ) -> Any:  # fmt: skip
        body = {
            "name": name,
            "can_login": can_login,
            **({"password": password} if password else {}),
        }
        path = f"{_ep(project_id, endpoint_id)}/roles"
        return self._run(Call("POST", path, RoleCreated, {"json": body}))

    def delete(self, project_id: str, endpoint_id: str, name: str) -> Any:
        return self._run(Call("DELETE", f"{_ep(project_id, endpoint_id)}/roles/{_p(name)}"))


class Extensions(_Resource):
    def list(self, project_id: str, endpoint_id: str, database: str = "postgres") -> Any:
        path = f"{_ep(project_id, endpoint_id)}/extensions"
        return self._run(Call("GET", path, list[Extension], {"params": {"database": database}}))

    def install(
        self, project_id: str, endpoint_id: str, name: str, database: str = "postgres"
    ) -> Any:
        path = f"{_ep(project_id, endpoint_id)}/extensions"
        kwargs = {"json": {"name": name}, "params": {"database": database}}
        return self._run(Call("POST", path, Extension, kwargs))

    def uninstall(
        self, project_id: str, endpoint_id: str, name: str, database: str = "postgres"
    ) -> Any:
        path = f"{_ep(project_id, endpoint_id)}/extensions/{_p(name)}"
        return self._run(Call("DELETE", path, kwargs={"params": {"database": database}}))


class Webhooks(_Resource):
    def list(self) -> Any:
        return self._run(Call("GET", "/v1/orgs/webhooks", list[Webhook]))

    def create(self, url: str, events: builtins.list[str], secret: str | None = None) -> Any:
        body = {"url": url, "events": events, **({"secret": secret} if secret else {})}
        return self._run(Call("POST", "/v1/orgs/webhooks", WebhookCreated, {"json": body}))

    def update(self, webhook_id: str, **changes: Any) -> Any:
        path = f"/v1/orgs/webhooks/{_p(webhook_id)}"
        return self._run(Call("PATCH", path, Webhook, {"json": changes}))

    def delete(self, webhook_id: str) -> Any:
        return self._run(Call("DELETE", f"/v1/orgs/webhooks/{_p(webhook_id)}"))

    def deliveries(self, webhook_id: str) -> Any:
        path = f"/v1/orgs/webhooks/{_p(webhook_id)}/deliveries"
        return self._run(Call("GET", path, builtins.list[Delivery]))

    def redeliver(self, webhook_id: str, delivery_id: str) -> Any:
        path = f"/v1/orgs/webhooks/{_p(webhook_id)}/deliveries/{_p(delivery_id)}/redeliver"
        return self._run(Call("POST", path, Delivery))

    def test(self, webhook_id: str) -> Any:
        return self._run(Call("POST", f"/v1/orgs/webhooks/{_p(webhook_id)}/test", TestSent))


class ApiKeys(_Resource):
    def list(self) -> Any:
        return self._run(Call("GET", "/v1/api_keys", list[ApiKey]))

    def create(self, name: str, permission: str = "developer") -> Any:
        body = {"name": name, "permission": permission}
        return self._run(Call("POST", "/v1/api_keys", ApiKeyCreated, {"json": body}))

    def revoke(self, key_id: str) -> Any:
        return self._run(Call("DELETE", f"/v1/api_keys/{_p(key_id)}"))


class Usage(_Resource):
    def org(self, period: str | None = None) -> Any:
        params = {"period": period} if period else {}
        return self._run(Call("GET", "/v1/usage", OrgUsage, {"params": params}))

    def project(self, project_id: str, period: str | None = None) -> Any:
        params = {"period": period} if period else {}
        path = f"/v1/projects/{_p(project_id)}/usage"
        return self._run(Call("GET", path, UsageOut, {"params": params}))

    def metrics(self, project_id: str, endpoint_id: str | None = None) -> Any:
        params = {"endpoint_id": endpoint_id} if endpoint_id else {}
        path = f"/v1/projects/{_p(project_id)}/metrics"
        return self._run(Call("GET", path, LiveMetrics, {"params": params}))

    def history(self, project_id: str, hours: int = 6) -> Any:
        path = f"/v1/projects/{_p(project_id)}/metrics/history"
        return self._run(Call("GET", path, list[Snapshot], {"params": {"hours": hours}}))

    def plans(self) -> Any:
        return self._run(Call("GET", "/v1/plans", list[Plan]))


class Data(_Resource):
    """SQL, schema and logs of an endpoint."""

    def sql(
        self, project_id: str, endpoint_id: str, query: str, database: str = "postgres",
        params: list[Any] | None = None,
    ) -> Any:  # fmt: skip
        body: dict[str, Any] = {"query": query, "database": database}
        if params is not None:
            body["params"] = params
        path = f"{_ep(project_id, endpoint_id)}/sql"
        return self._run(Call("POST", path, SqlResponse, {"json": body}))

    def schema(self, project_id: str, **params: Any) -> Any:
        path = f"/v1/projects/{_p(project_id)}/schema"
        return self._run(Call("GET", path, SchemaListing, {"params": params}))

    def logs(self, project_id: str, endpoint_id: str, lines: int = 200) -> Any:
        path = f"{_ep(project_id, endpoint_id)}/logs"
        return self._run(Call("GET", path, LogTail, {"params": {"lines": lines}}))


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


class _Resources:
    """The API's resources, bound to a client's way of running a call."""

    def _attach(self, run: Callable[[Call], Any]) -> None:
        self.projects = Projects(run)
        self.branches = Branches(run)
        self.endpoints = Endpoints(run)
        self.databases = Databases(run)
        self.roles = Roles(run)
        self.extensions = Extensions(run)
        self.webhooks = Webhooks(run)
        self.api_keys = ApiKeys(run)
        self.usage = Usage(run)
        self.data = Data(run)


class Lampion(_Resources):
    """The synchronous client."""

    def __init__(self, api_url: str | None = None, api_key: str | None = None, retries: int = 4):
        self._transport = SyncTransport(*settings(api_url, api_key), retries=retries)
        self._attach(self._run)

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

    def endpoint_of(self, project: str, branch: str | None) -> tuple[str, str]:
        """(project id, endpoint id) of a branch (id or name; default the primary)."""
        project_id = self.resolve_project(project)
        branches = self.branches.list(project_id)
        chosen = next(
            (b for b in branches if (b.is_primary if branch is None else branch in (b.id, b.name))),
            None,
        )
        if chosen is None or chosen.endpoint_id is None:
            raise NotFoundError(404, "not_found", f"Branch {branch} not found")
        return project_id, str(chosen.endpoint_id)

    def dump(
        self,
        project: str,
        target: Any,
        branch: str | None = None,
        database: str = "postgres",
        table: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Streams pg_dump into the binary file ``target``; returns the bytes written."""
        project_id, endpoint_id = self.endpoint_of(project, branch)
        params = {"database": database, **({"table": table} if table else {})}
        written = 0
        with self._transport.http.stream(
            "GET",
            f"{_ep(project_id, endpoint_id)}/dump",
            params=params,
            headers={"Authorization": f"Bearer {self._transport.key}"},
        ) as response:
            if response.status_code >= 400:
                response.read()
                from lampion.client.transport import _result

                _result(response)
            for chunk in response.iter_bytes():
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


class AsyncLampion(_Resources):
    """The asynchronous client: the same resources, awaited."""

    def __init__(self, api_url: str | None = None, api_key: str | None = None, retries: int = 4):
        self._transport = AsyncTransport(*settings(api_url, api_key), retries=retries)
        self._attach(self._run)

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
