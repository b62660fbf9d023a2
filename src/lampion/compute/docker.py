"""The `docker` backend: each compute is a container of the compute image running postgres
as the computes' OS user, over the branch's data dir bind-mounted at the same path, so that
storage, templates and branching work unchanged.

Containers carry labels naming their endpoint and this control plane's compute directory, so
that after a restart they are found again (adopted) or removed as orphans. A suspended
compute has no container: stop removes it, start creates a fresh one with the current size.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from pathlib import Path
from typing import Any

import aiodocker
import structlog
from aiodocker.exceptions import DockerError

from lampion.compute.base import (
    AdminTarget,
    ComputeSpec,
    ComputeStartFailed,
    ComputeStats,
    ComputeStatus,
)
from lampion.compute.layout import ComputeLayout, history_dir, postmaster_ready, read_lines
from lampion.compute.osuser import OsUser
from lampion.compute.pooler_docker import DockerPooler

log = structlog.get_logger(__name__)

LABEL_ENDPOINT = "lampion.endpoint_id"
LABEL_INSTANCE = "lampion.instance"
LABEL_PG_VERSION = "lampion.pg_version"

MEMORY_PER_COMPUTE_UNIT = 4 * 1024**3
_STOP_TIMEOUT = 15
_READY_POLL = 0.02
# postgres's output goes to the compute's log file on the host, as with the process backend
_LOG_TO_FILE = 'exec "$0" "$@" >>"$LAMPION_LOG" 2>&1'


class DockerUnavailable(RuntimeError):
    pass


class DockerBackend:
    """Call ``open`` before anything else."""

    def __init__(
        self,
        computes_dir: Path,
        user: OsUser,
        *,
        image: str,
        network: str,
        listen_host: str,
        start_timeout: float,
    ):
        self._layout = ComputeLayout(computes_dir)
        self._user = user
        self._image = image
        self._network = network
        self._listen_host = listen_host
        self._start_timeout = start_timeout
        self._instance = hashlib.sha256(str(computes_dir.resolve()).encode()).hexdigest()[:16]
        self._addresses: dict[str, str] = {}
        self._docker: aiodocker.Docker
        self._cpus = 1
        self._pooler = DockerPooler(
            self._layout, user, lambda e: self._docker.containers.container(self.container_name(e))
        )

    async def open(self, url: str | None, pg_versions: list[int]) -> None:
        """Connects to the Docker engine (``url``, else ``DOCKER_HOST``, else the local
        socket); raises DockerUnavailable when it does not answer."""
        try:
            self._docker = aiodocker.Docker(url=url)
        except (DockerError, OSError, ValueError) as exc:
            raise DockerUnavailable(f"cannot reach the Docker engine: {exc}") from exc
        try:
            info = await self._docker.system.info()
        except Exception as exc:  # aiohttp raises a family of connection errors
            await self._docker.close()
            raise DockerUnavailable(
                f"the Docker engine does not answer ({type(exc).__name__}); start dockerd or "
                "set LAMPION_DOCKER_HOST"
            ) from exc
        self._cpus = int(info.get("NCPU") or 1)
        await self._report_missing_images(pg_versions)

    async def _report_missing_images(self, pg_versions: list[int]) -> None:
        for pg_version in pg_versions:
            image = self._image.format(pg_version=pg_version)
            try:
                await self._docker.images.inspect(image)
            except DockerError:
                log.warning(
                    "compute.image_missing",
                    image=image,
                    pg_version=pg_version,
                    hint="projects of this version cannot start until the image is built",
                )

    async def close(self) -> None:
        await self._docker.close()

    # -- naming and paths ----------------------------------------------------------------

    def container_name(self, endpoint_id: str) -> str:
        return f"lampion-{self._instance[:8]}-{endpoint_id}"

    def image_for(self, spec: ComputeSpec) -> str:
        return self._image.format(pg_version=spec.install.major)

    def log_path(self, endpoint_id: str) -> Path:
        return self._layout.log_path(endpoint_id)

    def admin_target(self, spec: ComputeSpec) -> AdminTarget:
        return self._layout.admin_target(spec)

    def pooler_socket(self, endpoint_id: str, port: int) -> str:
        return str(self._pooler.socket(endpoint_id, port))

    @property
    def _host_network(self) -> bool:
        return self._network == "host"

    async def address(self, endpoint_id: str, port: int) -> tuple[str, int]:
        if self._host_network:
            return self._listen_host, port
        if endpoint_id not in self._addresses:
            inspected = await self._inspect(endpoint_id)
            networks = (inspected or {}).get("NetworkSettings", {}).get("Networks", {})
            address = networks.get(self._network, {}).get("IPAddress")
            if not address:
                raise OSError(f"compute {endpoint_id} has no address on {self._network}")
            self._addresses[endpoint_id] = address
        return self._addresses[endpoint_id], port

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, spec: ComputeSpec) -> None:
        """Starts postgres, then its pooler in the same container; on a running compute,
        brings the pooler in line with the spec."""
        if (await self.status(spec)).running:
            await self._pooler.converge(spec)
            return
        await self._remove_container(spec.endpoint_id)  # a stopped or killed one
        self._layout.prepare(spec, self._user)
        pid_file = spec.data_dir / "postmaster.pid"
        stale = _identity(pid_file)
        name = self.container_name(spec.endpoint_id)
        try:
            container = await self._docker.containers.create(self._config(spec), name=name)
            await container.start()
        except DockerError as exc:
            await self._remove_container(spec.endpoint_id)
            raise ComputeStartFailed(_start_error(self.image_for(spec), exc)) from exc
        try:
            await self._wait_ready(spec, pid_file, stale)
        except BaseException:
            await self._remove_container(spec.endpoint_id)
            raise
        log.info(
            "compute.started",
            endpoint_id=spec.endpoint_id,
            container=container.id[:12],
            port=spec.port,
        )
        await self._pooler.converge(spec)

    def _config(self, spec: ComputeSpec) -> dict[str, Any]:
        compute_dir = self._layout.compute_dir(spec.endpoint_id)
        socket_dir = self._layout.socket_dir(spec.endpoint_id)
        mounts = {spec.data_dir, compute_dir, history_dir(spec.data_dir)}
        if not socket_dir.is_relative_to(compute_dir):
            mounts.add(socket_dir)
        listen = self._listen_host if self._host_network else "*"
        cpus = min(float(self._cpus), spec.compute_units)
        memory = int(spec.compute_units * MEMORY_PER_COMPUTE_UNIT)
        return {
            "Image": self.image_for(spec),
            "User": f"{self._user.uid}:{self._user.gid}",
            "Entrypoint": ["/bin/sh", "-c", _LOG_TO_FILE],
            "Cmd": ["postgres", *self._layout.server_args(spec, listen)],
            "Env": [f"LAMPION_LOG={self.log_path(spec.endpoint_id)}", "LC_ALL=C.UTF-8"],
            "WorkingDir": str(spec.data_dir),
            "Labels": {
                LABEL_ENDPOINT: spec.endpoint_id,
                LABEL_INSTANCE: self._instance,
                LABEL_PG_VERSION: str(spec.install.major),
            },
            "StopSignal": "SIGINT",  # fast shutdown: clients are disconnected, not waited for
            "StopTimeout": _STOP_TIMEOUT,
            "HostConfig": {
                "NetworkMode": self._network,
                "Binds": [f"{path}:{path}" for path in sorted(mounts)],
                "NanoCpus": int(cpus * 1e9),
                "Memory": memory,
                "MemorySwap": memory,
                "ShmSize": memory // 4,  # dynamic shared memory (parallel query) lives here
                "RestartPolicy": {"Name": "no"},  # the reconciler decides
            },
        }

    async def _wait_ready(
        self, spec: ComputeSpec, pid_file: Path, stale: tuple[int, int] | None
    ) -> None:
        """Ready when a new ``postmaster.pid`` (not one a killed container left) says so."""
        deadline = time.monotonic() + self._start_timeout
        next_check = 0.0
        while time.monotonic() < deadline:
            if _identity(pid_file) != stale and postmaster_ready(read_lines(pid_file)):
                return
            if time.monotonic() >= next_check:
                inspected = await self._inspect(spec.endpoint_id)
                state = (inspected or {}).get("State", {})
                if not state.get("Running"):
                    raise ComputeStartFailed(
                        f"postgres exited with code {state.get('ExitCode')} while starting: "
                        + await self._last_output(spec.endpoint_id)
                    )
                next_check = time.monotonic() + 0.25
            await asyncio.sleep(_READY_POLL)
        raise ComputeStartFailed(f"postgres was not ready within {self._start_timeout:.0f}s")

    async def _last_output(self, endpoint_id: str) -> str:
        """The log's last line; the container's own output when postgres never got to log."""
        lines = read_lines(self.log_path(endpoint_id))
        if not lines:
            container = self._docker.containers.container(self.container_name(endpoint_id))
            with contextlib.suppress(DockerError):
                lines = "".join(await container.log(stdout=True, stderr=True)).splitlines()
        return lines[-1] if lines else "(no output)"

    async def stop(self, spec: ComputeSpec) -> None:
        inspected = await self._inspect(spec.endpoint_id)
        if inspected is None:
            return
        if inspected["State"].get("Running"):
            container = self._docker.containers.container(inspected["Id"])
            try:
                await container.stop(t=_STOP_TIMEOUT)
            except DockerError as exc:
                if exc.status != 404:
                    raise
            log.info("compute.stopped", endpoint_id=spec.endpoint_id)
        await self._remove_container(spec.endpoint_id)

    async def destroy(self, spec: ComputeSpec) -> None:
        await self.stop(spec)
        await asyncio.to_thread(self._layout.remove, spec.endpoint_id)

    async def remove_orphan(self, endpoint_id: str) -> None:
        await self._remove_container(endpoint_id)
        await asyncio.to_thread(self._layout.remove, endpoint_id)

    async def _remove_container(self, endpoint_id: str) -> None:
        self._addresses.pop(endpoint_id, None)
        container = self._docker.containers.container(self.container_name(endpoint_id))
        try:
            await container.delete(force=True)
        except DockerError as exc:
            if exc.status not in (404, 409):  # gone, or being removed already
                raise

    # -- observation ---------------------------------------------------------------------

    async def _inspect(self, endpoint_id: str) -> dict[str, Any] | None:
        """The container of an endpoint, if it exists and is this control plane's."""
        container = self._docker.containers.container(self.container_name(endpoint_id))
        try:
            data = await container.show()
        except DockerError as exc:
            if exc.status == 404:
                return None
            raise
        labels = data.get("Config", {}).get("Labels") or {}
        return data if labels.get(LABEL_INSTANCE) == self._instance else None

    async def status(self, spec: ComputeSpec) -> ComputeStatus:
        inspected = await self._inspect(spec.endpoint_id)
        state = (inspected or {}).get("State", {})
        if not state.get("Running") or state.get("Restarting"):
            return ComputeStatus(running=False)
        return ComputeStatus(running=True, pid=state.get("Pid") or None)

    async def stats(self, spec: ComputeSpec) -> ComputeStats | None:
        return (await self.stats_many([spec])).get(spec.endpoint_id)

    async def stats_many(self, specs: list[ComputeSpec]) -> dict[str, ComputeStats]:
        """CPU and memory as the engine accounts them for each container (its cgroup)."""
        results = await asyncio.gather(*(self._container_stats(s.endpoint_id) for s in specs))
        return {
            spec.endpoint_id: stats
            for spec, stats in zip(specs, results, strict=True)
            if stats is not None
        }

    async def _container_stats(self, endpoint_id: str) -> ComputeStats | None:
        try:
            # one-shot: the current counters, without waiting a second for a second sample
            raw = await self._docker._query_json(
                f"containers/{self.container_name(endpoint_id)}/stats",
                params={"stream": "false", "one-shot": "true"},
            )
        except DockerError:
            return None
        return _parse_stats(raw)

    async def running_endpoints(self) -> dict[str, int]:
        containers = await self._docker.containers.list(
            filters=f'{{"label": ["{LABEL_INSTANCE}={self._instance}"], "status": ["running"]}}'
        )
        found: dict[str, int] = {}
        for container in containers:
            endpoint_id = (container["Labels"] or {}).get(LABEL_ENDPOINT)
            if not endpoint_id:
                continue
            inspected = await self._inspect(endpoint_id)
            pid = (inspected or {}).get("State", {}).get("Pid")
            if pid:
                found[endpoint_id] = int(pid)
        return found


def _parse_stats(raw: dict[str, Any]) -> ComputeStats | None:
    cpu = (raw.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage")
    memory = raw.get("memory_stats") or {}
    usage = memory.get("usage")
    if cpu is None or usage is None:
        return None  # not running
    details = memory.get("stats") or {}
    # the page cache is reclaimable: report what the compute itself holds, as `docker stats`
    cache = details.get("total_inactive_file", details.get("inactive_file", 0))
    return ComputeStats(cpu_seconds=cpu / 1e9, memory_bytes=max(0, int(usage) - int(cache)))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def _start_error(image: str, exc: DockerError) -> str:
    if exc.status == 404:
        return (
            f"compute image {image} is not available to the Docker engine: build it "
            "(scripts/build-local-compute-image.sh or docker/compute.Dockerfile) or set "
            "LAMPION_COMPUTE_IMAGE"
        )
    return f"the Docker engine refused to start the compute: {exc.message}"
