"""Everything a running control plane holds: store, storage, compute, settings."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from lampion import log as logging_setup
from lampion.compute.base import ComputeBackend
from lampion.compute.docker import DockerBackend, DockerUnavailable
from lampion.compute.installations import PgInstall, discover
from lampion.compute.osuser import OsUser, resolve
from lampion.compute.process import ProcessBackend
from lampion.config import Settings
from lampion.crypto import SecretBox, load_or_create_master_key
from lampion.errors import InvalidRequest
from lampion.local_locks import LocalLocks
from lampion.metering import Meter
from lampion.pg.pools import Pools
from lampion.singleflight import SingleFlight
from lampion.storage.base import StorageDriver
from lampion.storage.local import LocalStorage
from lampion.storage.queue import StorageQueue
from lampion.storage.queued import QueuedStorage
from lampion.storage.templates import Templates
from lampion.store.engine import Sessions, make_engine, make_sessionmaker
from lampion.store.migrate import upgrade_to_head
from lampion.telemetry import Telemetry

log = structlog.get_logger(__name__)


class StartupError(RuntimeError):
    """The control plane cannot start; the message says what to change."""


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    secrets: SecretBox
    user: OsUser
    installs: list[PgInstall]
    storage: StorageDriver
    compute: ComputeBackend
    locks: LocalLocks = field(default_factory=LocalLocks)
    resumes: SingleFlight[None] = field(default_factory=SingleFlight)
    """Endpoint resumes in flight, shared by concurrent callers (see ``services/wake.py``)."""
    telemetry: Telemetry = field(default_factory=Telemetry)
    pools: Pools = field(default_factory=Pools)
    meter: Meter = field(init=False)
    webhooks_due: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when webhook deliveries may be due: events committed in this process or, on a
    PostgreSQL store, notified by another replica (see ``workers/webhooks.py``)."""

    def __post_init__(self) -> None:
        self.meter = Meter(self.sessions)

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        logging_setup.configure(settings.log_level, settings.log_json)
        prepare_data_dir(settings.data_dir)
        engine, sessions = await open_store(settings)
        try:
            user = resolve(settings.pg_user)
            check_reachable(settings.data_dir, user)
            installs = discover(settings.pg_bin, user)
            templates = Templates(settings.template_root, user)
            master_key = load_or_create_master_key(settings.master_key, settings.data_dir)
            telemetry = Telemetry()
            runtime = cls(
                settings=settings,
                engine=engine,
                sessions=sessions,
                secrets=SecretBox(master_key),
                user=user,
                installs=installs,
                storage=make_storage(settings, templates, user, telemetry),
                compute=await make_compute(settings, user, [i.major for i in installs]),
                telemetry=telemetry,
            )
        except BaseException:
            await engine.dispose()
            raise
        log.info(
            "runtime.ready",
            pg_versions=[i.version for i in installs],
            pg_user=user.name,
            storage=runtime.storage.name,
            storage_concurrency=settings.storage_concurrency,
            compute=settings.compute_backend,
        )
        return runtime

    async def close(self) -> None:
        await self.pools.close()
        await self.compute.close()
        await self.engine.dispose()

    @property
    def proxy_source(self) -> str:
        """Where the proxy's connections to computes come from, in pg_hba's terms."""
        settings = self.settings
        if settings.compute_backend == "docker" and settings.docker_network != "host":
            return "samenet"
        return settings.proxy_source_host

    def install_for(self, pg_version: int | None) -> PgInstall:
        if pg_version is None:
            return self.installs[0]
        for install in self.installs:
            if install.major == pg_version:
                return install
        raise InvalidRequest(
            f"PostgreSQL {pg_version} is not available on this server",
            details={
                "field": "pg_version",
                "value": pg_version,
                "allowed_values": [i.major for i in self.installs],
            },
        )


async def open_store(settings: Settings) -> tuple[AsyncEngine, Sessions]:
    engine = make_engine(settings.store_url)
    try:
        await upgrade_to_head(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine, make_sessionmaker(engine)


def prepare_data_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o711)  # computes' OS user may pass through, not list


def check_reachable(data_dir: Path, user: OsUser) -> None:
    if user.is_current:
        return
    result = subprocess.run(["test", "-x", str(data_dir)], check=False, **user.popen_kwargs())
    if result.returncode != 0:
        raise StartupError(
            f"The OS user {user.name!r} cannot reach {data_dir}: make every parent directory "
            "searchable (chmod o+x) or set LAMPION_DATA_DIR elsewhere."
        )


def make_storage(
    settings: Settings, templates: Templates, user: OsUser, telemetry: Telemetry | None = None
) -> StorageDriver:
    """The configured driver, its copies and deletes queued (``storage_concurrency`` at once)."""
    reflink = settings.storage_driver == "reflink"
    can_reflink = LocalStorage.can_reflink(settings.branches_dir)
    if reflink and not can_reflink:
        raise StartupError(
            f"LAMPION_STORAGE_DRIVER=reflink, but the filesystem of {settings.branches_dir} "
            "cannot clone files (reflink needs XFS with reflink=1, or btrfs); use copy or auto"
        )
    if settings.storage_driver == "auto":
        reflink = can_reflink
    driver = LocalStorage(settings.branches_dir, templates, user, reflink=reflink)
    return QueuedStorage(driver, StorageQueue(settings.storage_concurrency, telemetry))


async def make_compute(settings: Settings, user: OsUser, pg_versions: list[int]) -> ComputeBackend:
    if settings.compute_backend == "docker":
        backend = DockerBackend(
            settings.computes_dir,
            user,
            image=settings.compute_image,
            network=settings.docker_network,
            listen_host=settings.compute_listen_host,
            start_timeout=settings.compute_start_timeout,
        )
        try:
            await backend.open(settings.docker_host, pg_versions)
        except DockerUnavailable as exc:
            raise StartupError(f"LAMPION_COMPUTE_BACKEND=docker: {exc}") from exc
        return backend
    return ProcessBackend(
        settings.computes_dir, user, settings.compute_listen_host, settings.compute_start_timeout
    )
