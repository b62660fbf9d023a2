"""How the console's Branches tab shapes the API's answers: the tree, sizes, masked secrets
and the form values it passes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lampion.console.pages.branch_view import (
    MASK,
    branch_tree,
    human_bytes,
    masked,
    primary_endpoint_status,
)
from lampion.console.pages.endpoints import allowlist_entries
from lampion.console.pages.project import point_in_time
from lampion.schemas.branches import Branch
from lampion.schemas.endpoints import Endpoint

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _branch(id_: str, parent: str | None, minutes: int, *, primary: bool = False) -> Branch:
    return Branch(
        id=id_, project_id="prj-1", name=id_, is_primary=primary, parent_id=parent,
        state="ready", created_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


def test_branches_form_a_tree_with_the_primary_first_and_orphans_as_roots() -> None:
    branches = [
        _branch("dev", "main", 2), _branch("orphan", "gone", 1), _branch("fix", "dev", 3),
        _branch("main", None, 0, primary=True), _branch("qa", "main", 1),
    ]  # fmt: skip
    roots = branch_tree(branches, [])
    assert [r.branch.id for r in roots] == ["main", "orphan"]
    assert [c.branch.id for c in roots[0].children] == ["qa", "dev"]
    assert roots[0].children[1].children[0].parent_name == "dev"


def test_sizes_secrets_and_form_values() -> None:
    assert human_bytes(None) == "—"
    assert human_bytes(512) == "512 B"
    assert human_bytes(15_204_352) == "14.5 MB"
    assert masked("postgresql://u:s3cret@h/db", "s3cret") == f"postgresql://u:{MASK}@h/db"
    assert allowlist_entries("10.0.0.0/8\n 1.2.3.4, 5.6.7.8\n") == [
        "10.0.0.0/8", "1.2.3.4", "5.6.7.8",
    ]  # fmt: skip
    assert point_in_time("") is None
    assert point_in_time("2026-11-23T09:41") == "2026-11-23T09:41:00Z"
    assert point_in_time("2026-11-23T09:41:05") == "2026-11-23T09:41:05Z"
    assert point_in_time("yesterday") == "yesterday"  # the API names the field


def _endpoint(id_: str, branch_id: str, status: str) -> Endpoint:
    return Endpoint(
        id=id_, project_id="prj-1", branch_id=branch_id, status=status,
        auto_suspend_seconds=300, compute_units=1, created_at=T0,
        connection_string="postgresql://u:p@h/db", pg_password="p", host="h", port=5432,
        pg_port=5432,
    )  # fmt: skip


def test_the_projects_list_shows_the_primary_endpoints_status() -> None:
    branches = [_branch("dev", "main", 1), _branch("main", None, 0, primary=True)]
    endpoints = [_endpoint("ep-dev", "dev", "running"), _endpoint("ep-main", "main", "suspended")]
    assert primary_endpoint_status(branches, endpoints) == "suspended"
    assert primary_endpoint_status(branches, endpoints[:1]) is None
