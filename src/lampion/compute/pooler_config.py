"""A compute's PgBouncer: where its files live, and its configuration.

PgBouncer listens only on a unix socket in the compute's private socket directory (no TCP
port to allocate, nothing reachable around the proxy's allowlist check) and reaches
postgres over the same directory, where ``local`` connections are trusted: only the
computes' OS user can open it. It authenticates clients itself, with SCRAM against the
verifier ``auth_query`` returns (see ``pg/pooler.py``).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lampion.compute.base import ComputeSpec
from lampion.compute.sizing import postgres_settings
from lampion.pg.pooler import AUTH_QUERY, POOLER_ROLE

POOL_MODES = ("transaction", "session")
MAX_CLIENT_CONNECTIONS = 10_000
SERVER_IDLE_TIMEOUT_SECONDS = 30
"""Idle server connections close after this long, so that a pooler without clients leaves
the compute idle for auto-suspend (which counts postgres's client sessions; pooled clients
count at the proxy, which relays them)."""
_RESERVED_CONNECTIONS = 10
"""Connections PgBouncer leaves to the control plane and to direct clients."""


def pooler_port(compute_port: int) -> int:
    """The number in PgBouncer's socket name (``.s.PGSQL.<n>``), beside postgres's own."""
    return 6432 if compute_port != 6432 else 6433


def pooler_socket(socket_dir: Path, compute_port: int) -> Path:
    return socket_dir / f".s.PGSQL.{pooler_port(compute_port)}"


@dataclass(frozen=True)
class PoolerFiles:
    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "pgbouncer.ini"

    @property
    def pid(self) -> Path:
        return self.directory / "pgbouncer.pid"

    @property
    def log(self) -> Path:
        return self.directory / "pgbouncer.log"


@dataclass(frozen=True)
class PoolSizes:
    default_pool_size: int
    max_db_connections: int
    max_client_conn: int


def pool_sizes(compute_units: float) -> PoolSizes:
    """Server connections stay below the compute's ``max_connections`` (clients beyond them
    wait in PgBouncer's queue); two (database, role) pools can be busy at once."""
    max_connections = int(postgres_settings(compute_units)["max_connections"])
    server_connections = max(5, max_connections - _RESERVED_CONNECTIONS)
    return PoolSizes(
        default_pool_size=max(5, server_connections // 2),
        max_db_connections=server_connections,
        max_client_conn=min(MAX_CLIENT_CONNECTIONS, max(1000, int(5000 * compute_units))),
    )


def render(spec: ComputeSpec, files: PoolerFiles, socket_dir: Path) -> str:
    assert spec.pooler_mode in POOL_MODES, spec.pooler_mode
    sizes = pool_sizes(spec.compute_units)
    settings = {
        "listen_addr": "",
        "listen_port": str(pooler_port(spec.port)),
        "unix_socket_dir": str(socket_dir),
        "unix_socket_mode": "0700",
        "pidfile": str(files.pid),
        "auth_type": "scram-sha-256",
        "auth_user": POOLER_ROLE,
        "auth_query": AUTH_QUERY,
        "pool_mode": spec.pooler_mode,
        "default_pool_size": str(sizes.default_pool_size),
        "max_db_connections": str(sizes.max_db_connections),
        "max_client_conn": str(sizes.max_client_conn),
        "server_idle_timeout": str(SERVER_IDLE_TIMEOUT_SECONDS),
        "ignore_startup_parameters": "extra_float_digits",
        "application_name_add_host": "0",
        "log_connections": "0",
        "log_disconnections": "0",
        "syslog": "0",
    }
    if pgbouncer_version() >= (1, 21):
        settings["max_prepared_statements"] = "200"
    lines = [
        "; Written by Lampion at each start; edits are overwritten.",
        "[databases]",
        f"* = host={socket_dir} port={spec.port} auth_user={POOLER_ROLE}",
        "",
        "[pgbouncer]",
        *(f"{name} = {value}" for name, value in settings.items()),
    ]
    return "\n".join(lines) + "\n"


def pgbouncer_binary() -> Path | None:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
    return Path(found) if found else None


@functools.cache
def pgbouncer_version() -> tuple[int, int]:
    """The installed PgBouncer's (major, minor); (0, 0) when there is none."""
    binary = pgbouncer_binary()
    if binary is None:
        return (0, 0)
    try:
        output = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return (0, 0)
    match = re.search(r"PgBouncer (\d+)\.(\d+)", output)
    return (int(match[1]), int(match[2])) if match else (0, 0)


POOLER_SUFFIX = "-pooler"
"""``<endpoint_id>-pooler`` routes a connection to the endpoint's PgBouncer."""


def pooler_endpoint_id(endpoint_id: str) -> str:
    return endpoint_id + POOLER_SUFFIX


def split_pooler_suffix(routed_id: str) -> tuple[str, bool]:
    """(endpoint id, whether the pooler was asked for) of the id a connection names."""
    if routed_id.endswith(POOLER_SUFFIX):
        return routed_id.removesuffix(POOLER_SUFFIX), True
    return routed_id, False
