"""The tools' shared argument types, each with the description agents read."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ProjectRef = Annotated[
    str, Field(min_length=1, description="Project id (prj-…) or the project's unique name")
]
BranchRef = Annotated[
    str | None,
    Field(description="Branch id (br-…) or name; default: the project's primary branch"),
]
RequiredBranchRef = Annotated[str, Field(min_length=1, description="Branch id (br-…) or name")]
Database = Annotated[
    str, Field(min_length=1, max_length=63, description="Database name on the branch")
]
SchemaName = Annotated[str, Field(min_length=1, description="PostgreSQL schema (namespace)")]
Timestamp = Annotated[
    str | None,
    Field(
        description="A point in time, RFC 3339 with a time zone (2026-11-23T09:41:00Z)",
        examples=["2026-11-23T09:41:00Z"],
    ),
]
Lsn = Annotated[
    str | None,
    Field(
        pattern=r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$",
        description="A WAL position (0/16B3748); give a timestamp or an LSN, not both",
    ),
]
