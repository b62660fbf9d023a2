"""A typed client for the Lampion API (sync and async), as used by the `lampion` CLI:
every method returns the server's pydantic models (awaitables of them in `AsyncLampion`).

from lampion.client import Lampion
with Lampion() as api:                       # LAMPION_API_URL, LAMPION_API_KEY
    project_id = api.resolve_project("my-project")
    branch = api.branches.create(project_id, "pr-123", if_not_exists=True)
    print(api.connection_string(project_id, branch="pr-123"))
"""

from lampion.client.api import AsyncLampion, Lampion
from lampion.client.errors import (
    AuthenticationError,
    ConflictError,
    LampionAPIError,
    NotFoundError,
    RateLimitError,
)

__all__ = [
    "AsyncLampion",
    "AuthenticationError",
    "ConflictError",
    "Lampion",
    "LampionAPIError",
    "NotFoundError",
    "RateLimitError",
]
