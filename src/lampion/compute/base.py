"""What every compute backend does: run postgres over a data dir. It knows nothing of branches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lampion.compute.installations import PgInstall


@dataclass(frozen=True)
class ComputeSpec:
    endpoint_id: str
    data_dir: Path
    port: int
    install: PgInstall
    compute_units: float = 1.0
    pooler_mode: str | None = None
    """PgBouncer's pool mode (``transaction`` or ``session``); None: no pooler."""


@dataclass(frozen=True)
class ComputeStatus:
    running: bool
    pid: int | None = None


@dataclass(frozen=True)
class ComputeStats:
    cpu_seconds: float
    memory_bytes: int


@dataclass(frozen=True)
class AdminTarget:
    """Where the control plane reaches a compute as its superuser (a private unix socket)."""

    host: str
    port: int
    user: str = "cloud_admin"


class ComputeStartFailed(RuntimeError):
    pass


class ComputeBackend(Protocol):
    async def start(self, spec: ComputeSpec) -> None: ...

    async def stop(self, spec: ComputeSpec) -> None:
        """Fast shutdown; the data dir stays."""

    async def status(self, spec: ComputeSpec) -> ComputeStatus: ...

    async def destroy(self, spec: ComputeSpec) -> None:
        """Stop and remove everything but the data dir (which storage owns)."""

    async def stats(self, spec: ComputeSpec) -> ComputeStats | None: ...

    async def stats_many(self, specs: list[ComputeSpec]) -> dict[str, ComputeStats]:
        """CPU and memory of many computes at once (one look at the machine)."""
        ...

    def log_path(self, endpoint_id: str) -> Path: ...

    def admin_target(self, spec: ComputeSpec) -> AdminTarget: ...

    async def address(self, endpoint_id: str, port: int) -> tuple[str, int]:
        """Where the connection proxy reaches a running compute over TCP."""
        ...

    def pooler_socket(self, endpoint_id: str, port: int) -> str:
        """The unix socket of a running compute's PgBouncer (the proxy's upstream for
        ``<endpoint>-pooler``)."""
        ...

    async def running_endpoints(self) -> dict[str, int]:
        """Endpoint id -> pid of every compute this backend finds running on the machine."""
        ...

    async def remove_orphan(self, endpoint_id: str) -> None:
        """Stops and removes a compute the store knows nothing of."""

    async def close(self) -> None:
        """Releases the backend's own resources; computes keep running."""
