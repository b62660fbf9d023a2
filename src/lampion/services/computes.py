"""Bridges store rows to storage and compute: specs, ports, passwords, connection strings."""

from __future__ import annotations

import random
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lampion import ids
from lampion.compute.base import ComputeSpec
from lampion.compute.pooler_config import pooler_endpoint_id
from lampion.config import Settings
from lampion.crypto import scram_sha256_verifier
from lampion.errors import ServiceUnavailable
from lampion.pg.admin import set_role_password
from lampion.runtime import Runtime
from lampion.schemas.connection import ConnectionInfo
from lampion.services import verifiers
from lampion.states import DesiredState, EndpointStatus
from lampion.storage.templates import SUPERUSER
from lampion.store.models import Endpoint

log = structlog.get_logger(__name__)

T = TypeVar("T")
_PORT_RETRIES = 5


def spec_for(rt: Runtime, endpoint: Endpoint, pg_version: int) -> ComputeSpec:
    return ComputeSpec(
        endpoint_id=endpoint.id,
        data_dir=rt.storage.path(endpoint.branch_id),
        port=endpoint.port,
        install=rt.install_for(pg_version),
        compute_units=endpoint.compute_units,
        pooler_mode=endpoint.pooler_mode if endpoint.pooler_enabled else None,
    )


async def allocate_port(session: AsyncSession, settings: Settings) -> int:
    """A port in the configured range that no endpoint holds and nothing listens on.

    The unique constraint on ``endpoints.port`` settles races between replicas.
    """
    used = set((await session.scalars(select(Endpoint.port))).all())
    candidates = list(range(settings.port_range_start, settings.port_range_end + 1))
    random.shuffle(candidates)
    for port in candidates:
        if port not in used and _port_is_free(settings.compute_listen_host, port):
            return port
    raise ServiceUnavailable("No free compute port left in the configured range")


def new_endpoint(
    rt: Runtime,
    project_id: str,
    branch_id: str,
    *,
    port: int,
    password: str,
    now: datetime,
    parent: Endpoint | None = None,
) -> Endpoint:
    """The row of a compute about to be provisioned. A branch's compute takes its parent's
    size, auto-suspend, allowlist (the pg_hba.conf copied with the data has it) and pooler
    settings."""
    inherited: dict[str, Any] = {}
    if parent is not None:
        inherited = {
            "compute_units": parent.compute_units,
            "auto_suspend_seconds": parent.auto_suspend_seconds,
            "allowlist": list(parent.allowlist),
            "pooler_enabled": parent.pooler_enabled,
            "pooler_mode": parent.pooler_mode,
        }
    return Endpoint(
        id=ids.endpoint_id(),
        project_id=project_id,
        branch_id=branch_id,
        status=EndpointStatus.PROVISIONING,
        desired_state=DesiredState.RUNNING,
        port=port,
        password_enc=rt.secrets.encrypt(password),
        created_at=now,
        **inherited,
    )


async def insert_with_port(
    rt: Runtime,
    add_rows: Callable[[AsyncSession, int], Awaitable[T]],
    on_integrity_error: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Runs ``add_rows(session, port)`` in one transaction with a free compute port. When a
    concurrent create took the same port first (the unique constraint says so), tries again;
    ``on_integrity_error`` may raise a better error first (a name taken meanwhile)."""
    for _ in range(_PORT_RETRIES):
        try:
            async with rt.sessions() as session, session.begin():
                return await add_rows(session, await allocate_port(session, rt.settings))
        except IntegrityError:
            if on_integrity_error is not None:
                await on_integrity_error()
            log.info("compute.port_race_retry")
    raise ServiceUnavailable("Could not allocate a compute port; try again")


def _port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


async def set_superuser_password(rt: Runtime, spec: ComputeSpec, password: str) -> None:
    """Sets it, and records the compute's verifiers for the proxy (the data may be a
    parent's or a restored copy, with roles of its own). The salt is the endpoint's own, so
    every copy of its data given this password (a restore's old and new data) holds the
    verifier the proxy holds."""
    target = rt.compute.admin_target(spec)
    salt = rt.secrets.derive(f"superuser-salt\0{spec.endpoint_id}")[:16]
    verifier = scram_sha256_verifier(password, salt=salt)
    await set_role_password(target, SUPERUSER, verifier)
    await verifiers.remember(rt, spec.endpoint_id, SUPERUSER, verifier)
    await verifiers.harvest_quietly(rt, spec.endpoint_id, target)


def connection_info(settings: Settings, endpoint: Endpoint, password: str) -> ConnectionInfo:
    """How to reach a compute as its superuser: through the proxy, or on its own port."""
    return ConnectionInfo(
        connection_string=connection_string(settings, endpoint.id, password),
        pg_password=password,
        host=settings.public_host,
        port=settings.proxy_port,
        pg_port=endpoint.port,
        pooled_connection_string=pooled_connection_string(settings, endpoint, password),
    )


def pooled_connection_string(settings: Settings, endpoint: Endpoint, password: str) -> str | None:
    """Through the proxy to the compute's PgBouncer (``<endpoint_id>-pooler``); None when
    the endpoint's pooler is disabled."""
    if not endpoint.pooler_enabled:
        return None
    return connection_string(settings, pooler_endpoint_id(endpoint.id), password)


def connection_string(
    settings: Settings,
    endpoint_id: str,
    password: str,
    *,
    database: str = "postgres",
    role: str = SUPERUSER,
) -> str:
    """Through the connection proxy, naming the endpoint as ``settings.connection_routing``
    says (see ``proxy/routing.py`` for every form the proxy accepts)."""
    host = settings.public_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    dbname = quote(database, safe="")
    query = "sslmode=require"
    if settings.connection_routing == "options":
        query += f"&options=endpoint%3D{endpoint_id}"
    elif settings.connection_routing == "sni":
        host = f"{endpoint_id}.{host}"
    else:
        dbname = f"{endpoint_id}.{dbname}"
    return (
        f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{host}:"
        f"{settings.proxy_port}/{dbname}?{query}"
    )


async def stop(rt: Runtime, spec: ComputeSpec) -> None:
    """Stops a compute and forgets the SQL API's connections to it."""
    await rt.pools.drop(spec.endpoint_id)
    await rt.compute.stop(spec)


async def destroy(rt: Runtime, spec: ComputeSpec) -> None:
    await rt.pools.drop(spec.endpoint_id)
    await rt.compute.destroy(spec)
