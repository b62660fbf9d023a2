"""`lampion branches`: branch databases (copy-on-write forks), e.g. one per pull request."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lampion.cli.connect import connect
from lampion.cli.options import KeyOption, OutputOption, ProjectOption, UrlOption
from lampion.cli.output import Output, emit, plain, spinner
from lampion.schemas.branches import BranchCreated

app = typer.Typer(
    help="Branch databases (copy-on-write forks), e.g. one per pull request.",
    no_args_is_help=True,
)


@app.command("list")
def list_branches(
    project: ProjectOption, output: OutputOption = None, api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:  # fmt: skip
    """List a project's branches."""
    with connect(api_url, api_key) as api:
        emit(
            api.branches.list(api.resolve_project(project)),
            output,
            ["id", "name", "is_primary", "parent_id", "endpoint_id", "created_at"],
        )


@app.command("create")
def create(
    project: ProjectOption,
    name: Annotated[str, typer.Option(help="Branch name, e.g. pr-123")],
    parent: Annotated[
        str | None, typer.Option(help="Parent branch id or name (default: main)")
    ] = None,
    if_not_exists: Annotated[
        bool, typer.Option("--if-not-exists", help="Succeed with the existing branch")
    ] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="The parent as it was at this time (RFC 3339)")
    ] = None,
    lsn: Annotated[
        str | None, typer.Option("--lsn", help="The parent as it was at this WAL position")
    ] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a branch: the parent's data now (or at --at / --lsn), with its own compute."""
    with connect(api_url, api_key) as api:
        project_id = api.resolve_project(project)
        with spinner(f"Creating branch {name}…"):
            created = api.branches.create(
                project_id, name, parent=parent, if_not_exists=if_not_exists, at=at, lsn=lsn
            )
        shown: BranchCreated | dict[str, Any] = created or {  # it existed: show it
            **plain(api.branches.get(project_id, name)),
            "connection_string": api.connection_string(project_id, branch=name),
        }
        emit(shown, output, ["id", "name", "parent_id", "connection_string"])


@app.command("delete")
def delete(
    project: ProjectOption,
    branch: Annotated[str, typer.Option("--branch", "-b", help="Branch id or name")],
    if_exists: Annotated[bool, typer.Option("--if-exists", help="No error if it is gone")] = False,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete a branch, its compute and its data."""
    with connect(api_url, api_key) as api:
        api.branches.delete(api.resolve_project(project), branch, if_exists=if_exists)


BranchArgument = Annotated[str, typer.Argument(help="Branch id or name")]


@app.command("set-expiration")
def set_expiration(
    branch: BranchArgument,
    project: ProjectOption,
    at: Annotated[
        str | None,
        typer.Option("--at", help="When it deletes itself (RFC 3339, e.g. 2030-01-01T00:00:00Z)"),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Never expire")] = False,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Set when a branch deletes itself, or clear it."""
    if (at is None) == (not clear):
        raise typer.BadParameter("give exactly one of --at TIME and --clear")
    with connect(api_url, api_key) as api:
        updated = api.branches.update(
            api.resolve_project(project), branch, expires_at=at, clear_expiration=clear
        )
        emit(updated, output, ["id", "name", "expires_at", "protected"])


@app.command("protect")
def protect(
    branch: BranchArgument,
    project: ProjectOption,
    off: Annotated[bool, typer.Option("--off", help="Remove the protection")] = False,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Protect a branch: it refuses delete, restore, reset and expiry (--off undoes it)."""
    with connect(api_url, api_key) as api:
        updated = api.branches.update(api.resolve_project(project), branch, protected=not off)
        emit(updated, output, ["id", "name", "expires_at", "protected"])


@app.command("schema-diff")
def schema_diff(
    branch: BranchArgument,
    project: ProjectOption,
    base: Annotated[
        str | None, typer.Option("--base", help="Branch compared against (default: the parent)")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", "-d", help="Database (default: postgres)")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="The base as it was at this time (RFC 3339)")
    ] = None,
    lsn: Annotated[
        str | None, typer.Option("--lsn", help="The base as it was at this WAL position")
    ] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Print the unified diff of the two branches' schemas (nothing when equal); with --at
    or --lsn, of the base as it was then."""
    with connect(api_url, api_key) as api:
        result = api.branches.compare_schema(
            api.resolve_project(project), branch, base=base, database=database, at=at, lsn=lsn
        )
    if output in (Output.json, Output.yaml):
        emit(result, output)
    else:
        typer.echo(result.diff, nl=False)


# Restore and reset: the branch's data replaced in place, its connection string kept.

_SHOWN = ["id", "name", "parent_id", "state", "endpoint_id"]


@app.command("reset")
def reset(
    project: ProjectOption, branch: BranchArgument, output: OutputOption = None,
    api_url: UrlOption = None, api_key: KeyOption = None,
) -> None:  # fmt: skip
    """Reset a branch to its parent's present data (same connection string)."""
    with connect(api_url, api_key) as api:
        project_id = api.resolve_project(project)
        with spinner(f"Resetting branch {branch} to its parent…"):
            reset = api.branches.reset_to_parent(project_id, branch)
        emit(reset, output, _SHOWN)


@app.command("restore")
def restore(
    project: ProjectOption,
    branch: BranchArgument,
    source: Annotated[
        str | None, typer.Option(help="Branch (id or name) whose data to take (default: itself)")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="A point in time (RFC 3339) of the history")
    ] = None,
    lsn: Annotated[str | None, typer.Option("--lsn", help="A WAL position of the history")] = None,
    preserve_under_name: Annotated[
        str | None, typer.Option(help="Keep the data as it was as a new branch of this name")
    ] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Restore a branch from another branch's present data, or to a point (--at / --lsn) of
    its own history or --source's (same connection string)."""
    with connect(api_url, api_key) as api:
        project_id = api.resolve_project(project)
        with spinner(f"Restoring branch {branch}…"):
            restored = api.branches.restore(
                project_id, branch, source=source, at=at, lsn=lsn,
                preserve_under_name=preserve_under_name,
            )  # fmt: skip
        emit(restored, output, _SHOWN)
