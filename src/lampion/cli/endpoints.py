"""`lampion endpoints`: a project's computes: list, suspend, resume, settings."""

from __future__ import annotations

from typing import Annotated

import typer

from lampion.cli.connect import connect
from lampion.cli.options import BranchOption, KeyOption, OutputOption, ProjectOption, UrlOption
from lampion.cli.output import emit, spinner

app = typer.Typer(help="Computes: list, suspend, resume, settings.", no_args_is_help=True)


@app.command("list")
def list_endpoints(
    project: ProjectOption, output: OutputOption = None, api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:  # fmt: skip
    """List a project's endpoints (computes)."""
    with connect(api_url, api_key) as api:
        emit(
            api.endpoints.list(api.resolve_project(project)),
            output,
            ["id", "branch_id", "status", "compute_units", "auto_suspend_seconds", "pg_port"],
        )


@app.command("suspend")
def suspend(
    project: ProjectOption, branch: BranchOption = None, output: OutputOption = None,
    api_url: UrlOption = None, api_key: KeyOption = None,
) -> None:  # fmt: skip
    """Suspend a branch's compute (scale to zero)."""
    with connect(api_url, api_key) as api:
        emit(api.endpoints.suspend(*api.endpoint_of(project, branch)), output)


@app.command("resume")
def resume(
    project: ProjectOption, branch: BranchOption = None, output: OutputOption = None,
    api_url: UrlOption = None, api_key: KeyOption = None,
) -> None:  # fmt: skip
    """Resume a branch's compute."""
    with connect(api_url, api_key) as api, spinner("Resuming…"):
        result = api.endpoints.resume(*api.endpoint_of(project, branch))
    emit(result, output)


@app.command("set")
def set_settings(
    project: ProjectOption,
    branch: BranchOption = None,
    auto_suspend_seconds: Annotated[int | None, typer.Option(help="0 disables")] = None,
    compute_units: Annotated[float | None, typer.Option(help="0.25, 0.5, 1, 2 or 4")] = None,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Change a compute's settings."""
    with connect(api_url, api_key) as api:
        project_id, endpoint_id = api.endpoint_of(project, branch)
        updated = api.endpoints.update(
            project_id, endpoint_id, auto_suspend_seconds=auto_suspend_seconds,
            compute_units=compute_units,
        )  # fmt: skip
        emit(updated, output)
