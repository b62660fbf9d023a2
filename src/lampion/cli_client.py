"""`lampion` client commands, built on `lampion.client`: what CI scripts run."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from lampion.client import Lampion, LampionAPIError


class Output(StrEnum):
    json = "json"
    yaml = "yaml"
    table = "table"


OutputOption = Annotated[
    Output | None,
    typer.Option("--output", "-o", help="json | yaml | table (default: table on a terminal)"),
]
ProjectOption = Annotated[str, typer.Option("--project", "-p", help="Project id or name")]
UrlOption = Annotated[
    str | None, typer.Option("--api-url", envvar="LAMPION_API_URL", help="API base URL")
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="LAMPION_API_KEY", help="API key", show_default=False),
]

projects_app = typer.Typer(help="Create, list and delete projects.", no_args_is_help=True)
branches_app = typer.Typer(
    help="Branch databases (copy-on-write forks), e.g. one per pull request.",
    no_args_is_help=True,
)


@contextmanager
def _client(api_url: str | None, api_key: str | None) -> Iterator[Lampion]:
    try:
        client = Lampion(api_url=api_url, api_key=api_key)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        yield client
    except LampionAPIError as exc:
        where = f" (request {exc.request_id})" if exc.request_id else ""
        typer.echo(f"error: {exc.message}{where}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def emit(value: Any, output: Output | None, columns: list[str] | None = None) -> None:
    data = _plain(value)
    chosen = output or (Output.table if sys.stdout.isatty() else Output.json)
    if chosen is Output.json:
        typer.echo(json.dumps(data, indent=2))
    elif chosen is Output.yaml:
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
    else:
        rows = data if isinstance(data, list) else [data]
        names = columns or (list(rows[0]) if rows else [])
        table = Table(*names)
        for row in rows:
            table.add_row(*("" if row.get(n) is None else str(row.get(n)) for n in names))
        Console().print(table)


def _spinner(message: str) -> Any:
    return Console(stderr=True).status(message) if sys.stderr.isatty() else _Quiet()


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# -- projects ------------------------------------------------------------------------------


@projects_app.command("list")
def projects_list(
    output: OutputOption = None, api_url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List projects."""
    with _client(api_url, api_key) as api:
        emit(api.projects.list(), output, ["id", "name", "region", "pg_version", "created_at"])


@projects_app.command("create")
def projects_create(
    name: Annotated[str, typer.Option(help="Project name")],
    region: Annotated[str | None, typer.Option(help="Region")] = None,
    pg_version: Annotated[int | None, typer.Option(help="PostgreSQL major version")] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a project (waits until its database answers)."""
    with _client(api_url, api_key) as api, _spinner(f"Creating project {name}…"):
        created = api.projects.create(name, region=region, pg_version=pg_version)
    emit(created, output, ["id", "name", "endpoint_id", "connection_string"])


@projects_app.command("get")
def projects_get(
    project: Annotated[str, typer.Argument(help="Project id or name")],
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Show a project."""
    with _client(api_url, api_key) as api:
        emit(api.projects.get(api.resolve_project(project)), output)


@projects_app.command("delete")
def projects_delete(
    project: Annotated[str, typer.Argument(help="Project id or name")],
    if_exists: Annotated[bool, typer.Option("--if-exists", help="No error if it is gone")] = False,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete a project and all its data."""
    with _client(api_url, api_key) as api:
        try:
            project_id = api.resolve_project(project)
        except LampionAPIError:
            if if_exists:
                return
            raise
        api.projects.delete(project_id, if_exists=if_exists)


# -- branches ------------------------------------------------------------------------------


@branches_app.command("list")
def branches_list(
    project: ProjectOption, output: OutputOption = None, api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:  # fmt: skip
    """List a project's branches."""
    with _client(api_url, api_key) as api:
        emit(
            api.branches.list(api.resolve_project(project)),
            output,
            ["id", "name", "is_primary", "parent_id", "endpoint_id", "created_at"],
        )


@branches_app.command("create")
def branches_create(
    project: ProjectOption,
    name: Annotated[str, typer.Option(help="Branch name, e.g. pr-123")],
    parent: Annotated[
        str | None, typer.Option(help="Parent branch id or name (default: main)")
    ] = None,
    if_not_exists: Annotated[
        bool, typer.Option("--if-not-exists", help="Succeed with the existing branch")
    ] = False,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a branch: the parent's data at this moment, with its own compute."""
    with _client(api_url, api_key) as api:
        project_id = api.resolve_project(project)
        with _spinner(f"Creating branch {name}…"):
            created = api.branches.create(
                project_id, name, parent=parent, if_not_exists=if_not_exists
            )
        shown: Any = created
        if created is None:  # it existed: show it, with its connection string
            branch = api.branches.get(project_id, name)
            shown = {
                **_plain(branch),
                "connection_string": api.connection_string(project_id, branch=name),
            }
        emit(shown, output, ["id", "name", "parent_id", "connection_string"])


@branches_app.command("delete")
def branches_delete(
    project: ProjectOption,
    branch: Annotated[str, typer.Option("--branch", "-b", help="Branch id or name")],
    if_exists: Annotated[bool, typer.Option("--if-exists", help="No error if it is gone")] = False,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete a branch, its compute and its data."""
    with _client(api_url, api_key) as api:
        api.branches.delete(api.resolve_project(project), branch, if_exists=if_exists)


def connection_string(
    project: ProjectOption,
    branch: Annotated[str | None, typer.Option("--branch", "-b", help="Branch id or name")] = None,
    database: Annotated[str | None, typer.Option(help="Database (default: postgres)")] = None,
    role: Annotated[str | None, typer.Option(help="Role (its password is not included)")] = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Print a connection string, e.g. export DATABASE_URL=$(lampion connection-string …)."""
    with _client(api_url, api_key) as api:
        typer.echo(api.connection_string(project, branch=branch, database=database, role=role))


endpoints_app = typer.Typer(help="Computes: list, suspend, resume, settings.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Org webhooks.", no_args_is_help=True)
BranchOption = Annotated[
    str | None, typer.Option("--branch", "-b", help="Branch id or name (default: main)")
]


@endpoints_app.command("list")
def endpoints_list(
    project: ProjectOption, output: OutputOption = None, api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:  # fmt: skip
    """List a project's endpoints (computes)."""
    with _client(api_url, api_key) as api:
        emit(
            api.endpoints.list(api.resolve_project(project)),
            output,
            ["id", "branch_id", "status", "compute_units", "auto_suspend_seconds", "pg_port"],
        )


@endpoints_app.command("suspend")
def endpoints_suspend(
    project: ProjectOption, branch: BranchOption = None, output: OutputOption = None,
    api_url: UrlOption = None, api_key: KeyOption = None,
) -> None:  # fmt: skip
    """Suspend a branch's compute (scale to zero)."""
    with _client(api_url, api_key) as api:
        emit(api.endpoints.suspend(*api.endpoint_of(project, branch)), output)


@endpoints_app.command("resume")
def endpoints_resume(
    project: ProjectOption, branch: BranchOption = None, output: OutputOption = None,
    api_url: UrlOption = None, api_key: KeyOption = None,
) -> None:  # fmt: skip
    """Resume a branch's compute."""
    with _client(api_url, api_key) as api, _spinner("Resuming…"):
        result = api.endpoints.resume(*api.endpoint_of(project, branch))
    emit(result, output)


@endpoints_app.command("set")
def endpoints_set(
    project: ProjectOption,
    branch: BranchOption = None,
    auto_suspend_seconds: Annotated[int | None, typer.Option(help="0 disables")] = None,
    compute_units: Annotated[float | None, typer.Option(help="0.25, 0.5, 1, 2 or 4")] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Change a compute's settings."""
    with _client(api_url, api_key) as api:
        project_id, endpoint_id = api.endpoint_of(project, branch)
        updated = api.endpoints.update(
            project_id, endpoint_id, auto_suspend_seconds=auto_suspend_seconds,
            compute_units=compute_units,
        )  # fmt: skip
        emit(updated, output)


@webhooks_app.command("list")
def webhooks_list(
    output: OutputOption = None, api_url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List webhooks."""
    with _client(api_url, api_key) as api:
        emit(api.webhooks.list(), output, ["id", "url", "events", "enabled"])


@webhooks_app.command("create")
def webhooks_create(
    url: Annotated[str, typer.Option(help="Receiver URL")],
    event: Annotated[list[str], typer.Option("--event", help="Event type (repeat), or *")],
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a webhook; prints its signing secret (shown only now)."""
    with _client(api_url, api_key) as api:
        emit(api.webhooks.create(url, event), output, ["id", "url", "events", "secret"])


@webhooks_app.command("delete")
def webhooks_delete(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete a webhook."""
    with _client(api_url, api_key) as api:
        api.webhooks.delete(webhook_id)


@webhooks_app.command("test")
def webhooks_test(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Send a webhook.test event."""
    with _client(api_url, api_key) as api:
        emit(api.webhooks.test(webhook_id), output, ["event_id", "delivery_id"])


def sql(
    project: ProjectOption,
    query: Annotated[str | None, typer.Argument(help="SQL or a psql meta-command")] = None,
    file: Annotated[typer.FileText | None, typer.Option("--file", "-f", help="A script")] = None,
    branch: BranchOption = None,
    database: Annotated[str, typer.Option(help="Database")] = "postgres",
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Run SQL: a query argument, a --file, or standard input."""
    text = query if query is not None else (file.read() if file else sys.stdin.read())
    with _client(api_url, api_key) as api:
        result = api.data.sql(*api.endpoint_of(project, branch), text, database=database)
        emit(result.rows if result.columns else result, output, result.columns or None)


def dump(
    project: ProjectOption,
    to: Annotated[typer.FileBinaryWrite, typer.Option("--to", help="Output file (- for stdout)")],
    branch: BranchOption = None,
    database: Annotated[str, typer.Option(help="Database")] = "postgres",
    table: Annotated[str | None, typer.Option(help="One table (name or schema.name)")] = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """pg_dump a database (or one table) to a file, with progress on a terminal."""
    from rich.progress import DownloadColumn, Progress, SpinnerColumn, TransferSpeedColumn

    with _client(api_url, api_key) as api:
        if sys.stderr.isatty():
            with Progress(
                SpinnerColumn(), DownloadColumn(), TransferSpeedColumn(),
                console=Console(stderr=True),
            ) as bar:  # fmt: skip
                task = bar.add_task("dump", total=None)
                api.dump(project, to, branch=branch, database=database, table=table,
                         progress=lambda n: bar.update(task, completed=n))  # fmt: skip
        else:
            api.dump(project, to, branch=branch, database=database, table=table)


def usage(
    period: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month)")] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """The organization's usage and estimated cost."""
    with _client(api_url, api_key) as api:
        emit(api.usage.org(period=period), output, ["period", "total", "estimated_cost"])


def register(app: typer.Typer, command: Callable[..., Any] = connection_string) -> None:
    app.add_typer(projects_app, name="projects")
    app.add_typer(branches_app, name="branches")
    app.add_typer(endpoints_app, name="endpoints")
    app.add_typer(webhooks_app, name="webhooks")
    app.command("connection-string")(command)
    app.command("sql")(sql)
    app.command("dump")(dump)
    app.command("usage")(usage)
