"""The import graph of ``src/lampion`` flows one way: no circle between modules, and no module
imports from a layer above its own. Every import counts, also those under ``TYPE_CHECKING``
and inside functions."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Lowest first. A module belongs to the layer of its longest matching prefix; it may import
# from its own layer (without a circle) and from the layers below.
LAYERS: list[tuple[str, ...]] = [
    # foundation: no I/O of its own, knows no resource
    (
        "lampion",
        "lampion.errors",
        "lampion.ids",
        "lampion.clock",
        "lampion.config",
        "lampion.crypto",
        "lampion.log",
        "lampion.local_locks",
        "lampion.singleflight",
        "lampion.states",
        "lampion.event_types",
    ),
    # what the services build on: metadata store, branch data, computes, SQL to a compute,
    # wire schemas, webhook signing/sending, metrics and metering
    (
        "lampion.store",
        "lampion.migrations",
        "lampion.storage",
        "lampion.compute",
        "lampion.pg",
        "lampion.schemas",
        "lampion.webhooks",
        "lampion.telemetry",
        "lampion.metering",
    ),
    # what a running control plane holds
    ("lampion.runtime",),
    # business rules
    ("lampion.services",),
    # faces and entry points
    (
        "lampion.api",
        "lampion.proxy",
        "lampion.workers",
        "lampion.app",
        "lampion.cli",
        "lampion.cli_client",
        "lampion.console",
        "lampion.mcp",
        "lampion.client",
        "lampion.__main__",
    ),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "lampion").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(module: str, source: str, known: set[str], *, package: bool = False) -> set[str]:
    """The lampion modules ``module`` imports anywhere in ``source``."""

    def known_prefix(name: str) -> str:
        while name not in known and "." in name:
            name = name.rpartition(".")[0]
        return name

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {known_prefix(a.name) for a in node.names if _is_ours(a.name)}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if package else module.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, base] if base else here)
            if not _is_ours(base):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else known_prefix(base))
    found.discard(module)
    return found


def _is_ours(name: str) -> bool:
    return name == "lampion" or name.startswith("lampion.")


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        module: imports_of(module, path.read_text(), known, package=path.name == "__init__.py")
        for module, path in found.items()
    }


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for layer, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            # the package itself is placed alone, so a new top-level module must be placed too
            matches = module == prefix or (prefix != "lampion" and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return None if best is None else best[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward_arrows(graph: dict[str, set[str]]) -> Iterator[str]:
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            source_layer, target_layer = layer_of(module) or 0, layer_of(target) or 0
            if target_layer > source_layer:
                yield f"{module} (layer {source_layer}) -> {target} (layer {target_layer})"


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in modules() if layer_of(m) is None)
    assert not unplaced, f"add these modules to LAYERS: {unplaced}"


def test_no_module_imports_from_a_higher_layer() -> None:
    assert list(upward_arrows(import_graph())) == []


def test_no_import_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_graph_sees_deferred_and_type_checking_imports() -> None:
    source = """
from typing import TYPE_CHECKING
from lampion import ids
from .errors import Conflict
if TYPE_CHECKING:
    from lampion.services.wake import ensure_running
def later():
    import lampion.metering
    from lampion.services import endpoints
"""
    known = {
        "lampion",
        "lampion.ids",
        "lampion.errors",
        "lampion.metering",
        "lampion.runtime",
        "lampion.services",
        "lampion.services.endpoints",
        "lampion.services.wake",
    }
    graph = {"lampion.runtime": imports_of("lampion.runtime", source, known)}
    assert graph["lampion.runtime"] == {
        "lampion.ids",
        "lampion.errors",
        "lampion.metering",
        "lampion.services.endpoints",
        "lampion.services.wake",
    }
    assert len(list(upward_arrows(graph))) == 2
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("module", "layer"),
    [("lampion", 0), ("lampion.store.models", 1), ("lampion.services.wake", 3), ("lampion.cli", 4)],
)
def test_layer_of(module: str, layer: int) -> None:
    assert layer_of(module) == layer
