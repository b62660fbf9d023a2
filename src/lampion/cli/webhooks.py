"""`lampion webhooks`: the organization's webhooks."""

from __future__ import annotations

from typing import Annotated

import typer

from lampion.cli.connect import connect
from lampion.cli.options import KeyOption, OutputOption, UrlOption
from lampion.cli.output import emit

app = typer.Typer(help="Org webhooks.", no_args_is_help=True)
WebhookArgument = Annotated[str, typer.Argument(help="Webhook id")]


@app.command("list")
def list_webhooks(
    output: OutputOption = None, api_url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List webhooks."""
    with connect(api_url, api_key) as api:
        emit(api.webhooks.list(), output, ["id", "url", "events", "enabled"])


@app.command("create")
def create(
    url: Annotated[str, typer.Option(help="Receiver URL")],
    event: Annotated[list[str], typer.Option("--event", help="Event type (repeat), or *")],
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create a webhook; prints its signing secret (shown only now)."""
    with connect(api_url, api_key) as api:
        emit(api.webhooks.create(url, event), output, ["id", "url", "events", "secret"])


@app.command("delete")
def delete(
    webhook_id: WebhookArgument, api_url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """Delete a webhook."""
    with connect(api_url, api_key) as api:
        api.webhooks.delete(webhook_id)


@app.command("test")
def send_test(
    webhook_id: WebhookArgument,
    output: OutputOption = None,
    api_url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Send a webhook.test event."""
    with connect(api_url, api_key) as api:
        emit(api.webhooks.test(webhook_id), output, ["event_id", "delivery_id"])
