"""What the projects and branches pages show, shaped from the API's answers: branches as a
tree, sizes people read, connection strings with their password masked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lampion.schemas.branches import Branch
from lampion.schemas.endpoints import Endpoint

MASK = "••••••••"


@dataclass
class BranchNode:
    branch: Branch
    parent_name: str | None = None
    endpoint: Endpoint | None = None
    allowlist: list[str] = field(default_factory=list)
    children: list[BranchNode] = field(default_factory=list)


def branch_tree(
    branches: Iterable[Branch], endpoints: Iterable[Endpoint],
    allowlists: dict[str, list[str]] | None = None,
) -> list[BranchNode]:  # fmt: skip
    """Roots first (the primary branch leads), each with its children oldest first; a branch
    whose parent is gone is shown as a root."""
    by_branch = {endpoint.branch_id: endpoint for endpoint in endpoints}
    allowlists = allowlists or {}
    ordered = sorted(branches, key=lambda b: (not b.is_primary, b.created_at, b.name))
    nodes = {b.id: BranchNode(b, endpoint=by_branch.get(b.id)) for b in ordered}
    for node in nodes.values():
        if node.endpoint is not None:
            node.allowlist = allowlists.get(node.endpoint.id, [])
    roots: list[BranchNode] = []
    for node in nodes.values():
        parent = nodes.get(node.branch.parent_id or "")
        if parent is None:
            roots.append(node)
        else:
            node.parent_name = parent.branch.name
            parent.children.append(node)
    return roots


def human_bytes(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def branches_size(branches: Iterable[Branch]) -> int | None:
    """The project's databases' size: its branches' sizes as last sampled (None until any)."""
    sizes = [b.logical_size_bytes for b in branches if b.logical_size_bytes is not None]
    return sum(sizes) if sizes else None


def primary_endpoint_status(
    branches: Iterable[Branch], endpoints: Iterable[Endpoint]
) -> str | None:
    """The status of the primary branch's endpoint (None when it has none)."""
    primary = next((b.id for b in branches if b.is_primary), None)
    return next((e.status for e in endpoints if e.branch_id == primary), None)


def masked(connection_string: str, password: str) -> str:
    return connection_string.replace(password, MASK) if password else connection_string
