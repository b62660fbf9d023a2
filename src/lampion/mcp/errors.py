"""API errors as MCP tool errors: the API's code, message, useful details and request id,
never a stack trace."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from mcp.server.mcpserver.exceptions import ToolError

from lampion.client import LampionAPIError

_SHOWN_DETAILS = ("field", "statement_index", "sqlstate", "detail", "hint", "position", "available")


def tool_error(error: LampionAPIError) -> ToolError:
    shown = {k: error.details[k] for k in _SHOWN_DETAILS if error.details.get(k) is not None}
    text = f"{error.code}: {error.message}"
    if shown:
        text += f" {json.dumps(shown, default=str)}"
    text += f" (HTTP {error.status_code}, request id {error.request_id or 'unknown'})"
    return ToolError(text)


def rolled_back(error: LampionAPIError) -> ToolError:
    """The API's error about a script the tool wrapped in BEGIN … COMMIT, with the index of
    the agent's own failing statement."""
    index = error.details.get("statement_index")
    if isinstance(index, int):
        error.details["statement_index"] = index - 1
    return ToolError(f"{tool_error(error)}; the transaction was rolled back: nothing was applied")


@asynccontextmanager
async def as_tool_errors() -> AsyncIterator[None]:
    """Inside: an API error or an unreachable API leaves as a ToolError."""
    try:
        yield
    except LampionAPIError as exc:
        raise tool_error(exc) from None
    except httpx.TransportError as exc:
        raise ToolError(f"The Lampion API cannot be reached: {type(exc).__name__}") from None
