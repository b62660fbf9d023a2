"""States and event types come from one place: the enums, which the API document shows."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite
from starlette.datastructures import Headers

from lampion.api.credentials import presented_key
from lampion.app import create_app
from lampion.config import Settings
from lampion.event_types import EventType
from lampion.states import BranchState, DeliveryStatus, EndpointStatus, ProjectState
from lampion.store.types import StrEnumColumn

STATE_CHANGES = {
    "project.created", "project.deleted", "branch.created", "branch.deleted",
    "branch.restored", "branch.reset",
    "endpoint.suspended", "endpoint.resumed", "endpoint.updated", "endpoint.failed",
    "database.created", "database.deleted", "role.created", "role.deleted",
    "extension.installed", "extension.uninstalled", "allowlist.updated",
    "api_key.created", "api_key.revoked",
    "branch.expired", "branch.archive_failed",
}  # fmt: skip
"""The 21 state changes the README lists, besides webhook.disabled and webhook.test."""


def test_event_types_are_exactly_the_documented_ones() -> None:
    assert len(STATE_CHANGES) == 21
    assert {t.value for t in EventType} == STATE_CHANGES | {"webhook.disabled", "webhook.test"}


def test_openapi_shows_the_state_enums(tmp_path: Path) -> None:
    spec: dict[str, Any] = create_app(Settings(data_dir=tmp_path)).openapi()
    schemas = spec["components"]["schemas"]
    enums: tuple[type[StrEnum], ...] = (ProjectState, BranchState, EndpointStatus, DeliveryStatus)
    for enum in enums:
        assert schemas[enum.__name__]["enum"] == [member.value for member in enum], enum
    uses = {
        ("Project", "state"): ProjectState,
        ("ProjectCreated", "state"): ProjectState,
        ("Branch", "state"): BranchState,
        ("Endpoint", "status"): EndpointStatus,
        ("EndpointState", "status"): EndpointStatus,
        ("LiveMetrics", "status"): EndpointStatus,
        ("Delivery", "status"): DeliveryStatus,
        ("Delivery", "event_type"): EventType,
    }
    for (model, field), enum in uses.items():
        ref = schemas[model]["properties"][field]["$ref"]
        assert ref == f"#/components/schemas/{enum.__name__}", (model, field)


def test_a_state_column_stores_the_plain_value_and_refuses_a_typo() -> None:
    column = StrEnumColumn(EndpointStatus, 16)
    dialect = sqlite.dialect()
    assert column.process_bind_param(EndpointStatus.RUNNING, dialect) == "running"
    assert column.process_bind_param("suspended", dialect) == "suspended"
    assert column.process_result_value("failed", dialect) is EndpointStatus.FAILED
    with pytest.raises(ValueError, match="runing"):
        column.process_bind_param("runing", dialect)


def test_the_api_key_is_read_from_bearer_or_x_api_key() -> None:
    def key(**headers: str) -> str | None:
        return presented_key(Headers({k.replace("_", "-"): v for k, v in headers.items()}))

    assert key(authorization="Bearer lmp_live_a") == "lmp_live_a"
    assert key(authorization="bearer  lmp_live_a ") == "lmp_live_a"
    assert key(x_api_key=" lmp_live_b ") == "lmp_live_b"
    assert key(authorization="Bearer lmp_live_a", x_api_key="lmp_live_b") == "lmp_live_a"
    assert key(authorization="Basic abc", x_api_key="lmp_live_b") == "lmp_live_b"
    assert key(authorization="Bearer ", x_api_key="lmp_live_b") == "lmp_live_b"
    assert key(authorization="Basic abc") is None
    assert key() is None
