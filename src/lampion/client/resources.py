"""The API's resources, written once: each method describes its call and the model of its
answer; `binding` makes them sync, async or described methods."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, Literal

from lampion.client import calls as call
from lampion.client.binding import M, Resource, operation
from lampion.client.calls import Call, present, segment
from lampion.client.errors import ConflictError, NotFoundError
from lampion.schemas.api_keys import ApiKey, ApiKeyCreated
from lampion.schemas.branches import Branch, BranchCreated, SchemaDiff
from lampion.schemas.endpoints import Endpoint, EndpointState
from lampion.schemas.metrics import LiveMetrics, OrgUsage, Snapshot
from lampion.schemas.metrics import Usage as ProjectUsage
from lampion.schemas.objects import Database, Extension, LogTail, Role, RoleCreated
from lampion.schemas.plans import Plan
from lampion.schemas.projects import Project, ProjectCreated
from lampion.schemas.sql import SchemaListing, SqlResponse
from lampion.schemas.webhooks import Delivery, TestSent, Webhook, WebhookCreated


def _project(project_id: str) -> str:
    return f"/v1/projects/{segment(project_id)}"


def _endpoint(project_id: str, endpoint_id: str) -> str:
    return f"{_project(project_id)}/endpoints/{segment(endpoint_id)}"


def _webhook(webhook_id: str) -> str:
    return f"/v1/orgs/webhooks/{segment(webhook_id)}"


class Projects(Resource[M]):
    @operation
    def list(
        self, *, name: str | None = None, region: str | None = None, page: int | None = None,
        limit: int | None = None, sort: str | None = None, order: str | None = None,
    ) -> Call[builtins.list[Project]]:  # fmt: skip
        """One page of projects (default the first 100), filtered by name or region."""
        return call.get("/v1/projects", builtins.list[Project], name=name, region=region, page=page,
                   limit=limit, sort=sort, order=order)  # fmt: skip

    @operation
    def create(
        self, name: str, *, region: str | None = None, pg_version: int | None = None
    ) -> Call[ProjectCreated]:
        """Create a project; answers once its database accepts connections."""
        body = present(name=name, region=region, pg_version=pg_version)
        return call.post("/v1/projects", ProjectCreated, body)

    @operation
    def get(self, project_id: str) -> Call[Project]:
        return call.get(_project(project_id), Project)

    @operation
    def delete(self, project_id: str, *, if_exists: bool = False) -> Call[None]:
        return call.delete(_project(project_id)).tolerating(NotFoundError if if_exists else None)


class Branches(Resource[M]):
    @operation
    def list(self, project_id: str) -> Call[builtins.list[Branch]]:
        return call.get(f"{_project(project_id)}/branches", builtins.list[Branch])

    @operation
    def get(self, project_id: str, branch: str) -> Call[Branch]:
        """By id or by name."""
        return call.get(f"{_project(project_id)}/branches/{segment(branch)}", Branch)

    @operation
    def create(
        self, project_id: str, name: str, *, parent: str | None = None,
        if_not_exists: bool = False, expires_at: datetime | str | None = None,
        protected: bool | None = None, at: datetime | str | None = None,
        lsn: str | None = None,
    ) -> Call[BranchCreated | None]:  # fmt: skip
        """Create a branch from ``parent`` (id or name; default the primary branch) as it is
        now, or as it was at a time (``at``) or WAL position (``lsn``, ``0/16B3748``) of its
        history. None when ``if_not_exists`` and a branch of that name exists."""
        body = present(
            name=name, parent_id=parent or None, expires_at=_rfc3339(expires_at),
            protected=protected, parent_timestamp=_rfc3339(at), parent_lsn=lsn,
        )  # fmt: skip
        created = call.post(f"{_project(project_id)}/branches", BranchCreated, body)
        return created.tolerating(ConflictError if if_not_exists else None)

    @operation
    def delete(self, project_id: str, branch: str, *, if_exists: bool = False) -> Call[None]:
        path = f"{_project(project_id)}/branches/{segment(branch)}"
        return call.delete(path).tolerating(NotFoundError if if_exists else None)

    @operation
    def update(
        self, project_id: str, branch: str, *, name: str | None = None,
        expires_at: datetime | str | None = None, clear_expiration: bool = False,
        protected: bool | None = None,
    ) -> Call[Branch]:  # fmt: skip
        """Rename, set the expiry (``clear_expiration`` removes it) or (un)protect a branch."""
        body: dict[str, Any] = present(
            name=name, expires_at=_rfc3339(expires_at), protected=protected
        )
        if clear_expiration:
            body["expires_at"] = None
        return Call(
            "PATCH", f"{_project(project_id)}/branches/{segment(branch)}", Branch, json=body
        )

    @operation
    def compare_schema(
        self, project_id: str, branch: str, *, base: str | None = None,
        database: str | None = None, at: datetime | str | None = None, lsn: str | None = None,
    ) -> Call[SchemaDiff]:  # fmt: skip
        """Unified diff of the schemas of ``base`` (default the parent) and ``branch``; with
        ``at`` (a time) or ``lsn``, of ``base`` as it was then."""
        path = f"{_project(project_id)}/branches/{segment(branch)}/compare_schema"
        return call.get(
            path, SchemaDiff, base_branch_id=base, database=database,
            base_timestamp=_rfc3339(at), base_lsn=lsn,
        )  # fmt: skip

    @operation
    def reset_to_parent(self, project_id: str, branch: str) -> Call[Branch]:
        """The branch's data becomes its parent's present; its connection string stays."""
        path = f"{_project(project_id)}/branches/{segment(branch)}/reset_to_parent"
        return call.post(path, Branch)

    @operation
    def restore(
        self, project_id: str, branch: str, *, source: str | None = None,
        at: datetime | str | None = None, lsn: str | None = None,
        preserve_under_name: str | None = None,
    ) -> Call[Branch]:  # fmt: skip
        """The branch's data becomes ``source``'s present (a branch id or name), or a point
        (``at`` a time, ``lsn`` a WAL position) of ``source``'s history or, without
        ``source``, its own; with ``preserve_under_name`` the data as it was survives as a new
        branch."""
        body = present(
            source_branch_id=source, source_timestamp=_rfc3339(at), source_lsn=lsn,
            preserve_under_name=preserve_under_name,
        )  # fmt: skip
        return call.post(f"{_project(project_id)}/branches/{segment(branch)}/restore", Branch, body)


def _rfc3339(moment: datetime | str | None) -> str | None:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("a time needs a time zone")
        return moment.isoformat()
    return moment


class Endpoints(Resource[M]):
    @operation
    def list(self, project_id: str) -> Call[builtins.list[Endpoint]]:
        return call.get(f"{_project(project_id)}/endpoints", builtins.list[Endpoint])

    @operation
    def get(self, project_id: str, endpoint_id: str) -> Call[Endpoint]:
        return call.get(_endpoint(project_id, endpoint_id), Endpoint)

    @operation
    def suspend(self, project_id: str, endpoint_id: str) -> Call[EndpointState]:
        return call.post(f"{_endpoint(project_id, endpoint_id)}/suspend", EndpointState)

    @operation
    def resume(self, project_id: str, endpoint_id: str) -> Call[EndpointState]:
        return call.post(f"{_endpoint(project_id, endpoint_id)}/resume", EndpointState)

    @operation
    def update(
        self, project_id: str, endpoint_id: str, *, auto_suspend_seconds: int | None = None,
        compute_units: float | None = None, pooler_enabled: bool | None = None,
        pooler_mode: str | None = None,
    ) -> Call[Endpoint]:  # fmt: skip
        """Change the given settings (auto-suspend 0 disables it; ``pooler_mode`` is
        ``transaction`` or ``session``)."""
        body = present(
            auto_suspend_seconds=auto_suspend_seconds, compute_units=compute_units,
            pooler_enabled=pooler_enabled, pooler_mode=pooler_mode,
        )  # fmt: skip
        return Call("PATCH", _endpoint(project_id, endpoint_id), Endpoint, json=body)

    @operation
    def allowlist(self, project_id: str, endpoint_id: str) -> Call[builtins.list[str]]:
        return call.get(f"{_endpoint(project_id, endpoint_id)}/allowlist", builtins.list[str])

    @operation
    def set_allowlist(
        self, project_id: str, endpoint_id: str, entries: builtins.list[str]
    ) -> Call[builtins.list[str]]:
        """Replace the IP allowlist (CIDRs); empty admits every address."""
        path = f"{_endpoint(project_id, endpoint_id)}/allowlist"
        return Call("PUT", path, builtins.list[str], json={"allowlist": entries})


class Databases(Resource[M]):
    @operation
    def list(self, project_id: str, endpoint_id: str) -> Call[builtins.list[Database]]:
        return call.get(f"{_endpoint(project_id, endpoint_id)}/databases", builtins.list[Database])

    @operation
    def create(
        self, project_id: str, endpoint_id: str, name: str, *, owner: str | None = None
    ) -> Call[Database]:
        path = f"{_endpoint(project_id, endpoint_id)}/databases"
        return call.post(path, Database, present(name=name, owner=owner or None))

    @operation
    def delete(self, project_id: str, endpoint_id: str, name: str) -> Call[None]:
        return call.delete(f"{_endpoint(project_id, endpoint_id)}/databases/{segment(name)}")


class Roles(Resource[M]):
    @operation
    def list(self, project_id: str, endpoint_id: str) -> Call[builtins.list[Role]]:
        return call.get(f"{_endpoint(project_id, endpoint_id)}/roles", builtins.list[Role])

    @operation
    def create(
        self, project_id: str, endpoint_id: str, name: str, *, password: str | None = None,
        can_login: bool = True,
    ) -> Call[RoleCreated]:  # fmt: skip
        """Create a role; without ``password`` one is generated (in the answer)."""
        body = present(name=name, can_login=can_login, password=password or None)
        return call.post(f"{_endpoint(project_id, endpoint_id)}/roles", RoleCreated, body)

    @operation
    def delete(self, project_id: str, endpoint_id: str, name: str) -> Call[None]:
        return call.delete(f"{_endpoint(project_id, endpoint_id)}/roles/{segment(name)}")


class Extensions(Resource[M]):
    @operation
    def list(
        self, project_id: str, endpoint_id: str, *, database: str = "postgres"
    ) -> Call[builtins.list[Extension]]:
        path = f"{_endpoint(project_id, endpoint_id)}/extensions"
        return call.get(path, builtins.list[Extension], database=database)

    @operation
    def install(
        self, project_id: str, endpoint_id: str, name: str, *, database: str = "postgres"
    ) -> Call[Extension]:
        path = f"{_endpoint(project_id, endpoint_id)}/extensions"
        return Call("POST", path, Extension, params={"database": database}, json={"name": name})

    @operation
    def uninstall(
        self, project_id: str, endpoint_id: str, name: str, *, database: str = "postgres"
    ) -> Call[None]:
        path = f"{_endpoint(project_id, endpoint_id)}/extensions/{segment(name)}"
        return call.delete(path, database=database)


class Webhooks(Resource[M]):
    @operation
    def list(self) -> Call[builtins.list[Webhook]]:
        return call.get("/v1/orgs/webhooks", builtins.list[Webhook])

    @operation
    def create(
        self, url: str, events: builtins.list[str], *, secret: str | None = None
    ) -> Call[WebhookCreated]:
        """Create a webhook for ``events`` (or ``["*"]``); the answer holds its secret."""
        body = present(url=url, events=events, secret=secret or None)
        return call.post("/v1/orgs/webhooks", WebhookCreated, body)

    @operation
    def update(
        self, webhook_id: str, *, url: str | None = None,
        events: builtins.list[str] | None = None, enabled: bool | None = None,
    ) -> Call[Webhook]:  # fmt: skip
        body = present(url=url, events=events, enabled=enabled)
        return Call("PATCH", _webhook(webhook_id), Webhook, json=body)

    @operation
    def delete(self, webhook_id: str) -> Call[None]:
        return call.delete(_webhook(webhook_id))

    @operation
    def deliveries(self, webhook_id: str) -> Call[builtins.list[Delivery]]:
        return call.get(f"{_webhook(webhook_id)}/deliveries", builtins.list[Delivery])

    @operation
    def redeliver(self, webhook_id: str, delivery_id: str) -> Call[Delivery]:
        path = f"{_webhook(webhook_id)}/deliveries/{segment(delivery_id)}/redeliver"
        return call.post(path, Delivery)

    @operation
    def test(self, webhook_id: str) -> Call[TestSent]:
        """Send a webhook.test event."""
        return call.post(f"{_webhook(webhook_id)}/test", TestSent)


class ApiKeys(Resource[M]):
    @operation
    def list(self) -> Call[builtins.list[ApiKey]]:
        return call.get("/v1/api_keys", builtins.list[ApiKey])

    @operation
    def create(self, name: str, *, permission: str = "developer") -> Call[ApiKeyCreated]:
        """Create a key (admin | developer | read_only); the answer holds it, shown once."""
        return call.post("/v1/api_keys", ApiKeyCreated, {"name": name, "permission": permission})

    @operation
    def revoke(self, key_id: str) -> Call[None]:
        return call.delete(f"/v1/api_keys/{segment(key_id)}")

    @operation
    def current(self) -> Call[ApiKey]:
        """The key the client calls with, and its permission."""
        return call.get("/v1/api_keys/current", ApiKey)


class Usage(Resource[M]):
    @operation
    def org(self, *, period: str | None = None) -> Call[OrgUsage]:
        """The organization's usage and estimated cost in ``period`` (YYYY-MM)."""
        return call.get("/v1/usage", OrgUsage, period=period or None)

    @operation
    def project(self, project_id: str, *, period: str | None = None) -> Call[ProjectUsage]:
        return call.get(f"{_project(project_id)}/usage", ProjectUsage, period=period or None)

    @operation
    def metrics(self, project_id: str, *, endpoint_id: str | None = None) -> Call[LiveMetrics]:
        path = f"{_project(project_id)}/metrics"
        return call.get(path, LiveMetrics, endpoint_id=endpoint_id or None)

    @operation
    def history(self, project_id: str, *, hours: int = 6) -> Call[builtins.list[Snapshot]]:
        path = f"{_project(project_id)}/metrics/history"
        return call.get(path, builtins.list[Snapshot], hours=hours)

    @operation
    def plans(self) -> Call[builtins.list[Plan]]:
        return call.get("/v1/plans", builtins.list[Plan])

    @operation
    def history_page(
        self, project_id: str, *, hours: int = 6, endpoint_id: str | None = None,
        page: int | None = None, limit: int | None = None, order: str | None = None,
    ) -> Call[builtins.list[Snapshot]]:  # fmt: skip
        """One page of the snapshots of the last ``hours`` of an endpoint (default the
        primary), oldest first unless ``order="desc"``."""
        path = f"{_project(project_id)}/metrics/history"
        return call.get(path, builtins.list[Snapshot], hours=hours, endpoint_id=endpoint_id,
                        page=page, limit=limit, order=order)  # fmt: skip


class Data(Resource[M]):
    """SQL, schema and logs of an endpoint."""

    @operation
    def sql(
        self, project_id: str, endpoint_id: str, query: str, *, database: str = "postgres",
        params: builtins.list[Any] | None = None,
        row_mode: Literal["object", "array"] | None = None,
    ) -> Call[SqlResponse]:  # fmt: skip
        """Run SQL (or a psql meta-command such as ``\\dt``) with optional ``$1`` params; rows
        are objects keyed by column (repeated names get ``_N`` suffixes) or, with
        ``row_mode="array"``, lists in column order."""
        body = present(query=query, database=database, params=params, row_mode=row_mode)
        return call.post(f"{_endpoint(project_id, endpoint_id)}/sql", SqlResponse, body)

    @operation
    def schema(
        self, project_id: str, *, database: str | None = None, schema: str | None = None,
        endpoint_id: str | None = None, branch_id: str | None = None,
    ) -> Call[SchemaListing]:  # fmt: skip
        """No arguments: databases; ``database``: its schemas; with ``schema``: its tables."""
        return call.get(f"{_project(project_id)}/schema", SchemaListing, database=database,
                   schema=schema, endpoint_id=endpoint_id, branch_id=branch_id)  # fmt: skip

    @operation
    def logs(self, project_id: str, endpoint_id: str, *, lines: int = 200) -> Call[LogTail]:
        return call.get(f"{_endpoint(project_id, endpoint_id)}/logs", LogTail, lines=lines)
