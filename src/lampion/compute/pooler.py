"""Runs a compute's PgBouncer as a process of the computes' OS user, next to its postmaster.

``converge`` makes the pooler match the spec (started, restarted with a new configuration,
or stopped); the backends call it once postgres is ready, and ``stop`` before postgres
stops. A pooler that cannot start leaves the compute running (direct connections work) and
says why in the log; the proxy then refuses the ``-pooler`` route.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil
import structlog

from lampion.compute.base import ComputeSpec
from lampion.compute.layout import ComputeLayout, read_lines
from lampion.compute.osuser import OsUser
from lampion.compute.pooler_config import (
    MAX_CLIENT_CONNECTIONS,
    PoolerFiles,
    pgbouncer_binary,
    pooler_socket,
    render,
)
from lampion.compute.processes import spawn_daemon, wait_gone
from lampion.pg import pooler as pg_pooler

log = structlog.get_logger(__name__)

_READY_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_OPEN_FILES = MAX_CLIENT_CONNECTIONS * 2 + 100
"""Each client holds a socket, each server connection another."""


def files_of(layout: ComputeLayout, endpoint_id: str) -> PoolerFiles:
    return PoolerFiles(layout.compute_dir(endpoint_id) / "pooler")


class Pooler:
    """What both backends share: the pooler's files, and bringing it in line with a spec.
    Subclasses say how PgBouncer is launched, found and ended."""

    def __init__(self, layout: ComputeLayout, user: OsUser):
        self._layout = layout
        self._user = user

    def socket(self, endpoint_id: str, port: int) -> Path:
        return pooler_socket(self._layout.socket_dir(endpoint_id), port)

    async def converge(self, spec: ComputeSpec) -> None:
        """Starts, restarts (its configuration changed, or it died) or stops the pooler;
        a failure is logged, never raised: postgres serves direct connections anyway."""
        if spec.pooler_mode is None:
            await self.stop(spec.endpoint_id, spec.port)
            return
        files = files_of(self._layout, spec.endpoint_id)
        config = render(spec, files, self._layout.socket_dir(spec.endpoint_id))
        running = await self.running(spec.endpoint_id, spec.port)
        if running and _read(files.config) == config:
            return
        # PgBouncer needs the function only once a client logs in: do both at once
        results = await asyncio.gather(
            pg_pooler.install(self._layout.admin_target(spec)),
            self._restart(spec, files, config, running),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                log.error(
                    "pooler.start_failed",
                    endpoint_id=spec.endpoint_id,
                    error_type=type(result).__name__,
                    error=str(result),
                )
            elif isinstance(result, BaseException):
                raise result

    async def _restart(
        self, spec: ComputeSpec, files: PoolerFiles, config: str, running: bool
    ) -> None:
        if running:
            await self.stop(spec.endpoint_id, spec.port)
        await asyncio.to_thread(self._write_files, files, config)
        socket = self.socket(spec.endpoint_id, spec.port)
        socket.unlink(missing_ok=True)
        files.pid.unlink(missing_ok=True)
        await self._launch(spec, files, socket)
        log.info("pooler.started", endpoint_id=spec.endpoint_id, mode=spec.pooler_mode)

    def _write_files(self, files: PoolerFiles, config: str) -> None:
        self._user.make_private_dir(files.directory)
        files.config.write_text(config)
        files.config.chmod(0o600)
        self._user.chown(files.config)
        files.log.touch(mode=0o600)
        self._user.chown(files.log)

    async def stop(self, endpoint_id: str, port: int | None = None) -> None:
        """Immediate shutdown: its clients are disconnected."""
        if await self.running(endpoint_id, port):
            await self._terminate(endpoint_id, port)
            log.info("pooler.stopped", endpoint_id=endpoint_id)

    async def running(self, endpoint_id: str, port: int | None) -> bool:
        raise NotImplementedError

    async def _launch(self, spec: ComputeSpec, files: PoolerFiles, socket: Path) -> None:
        raise NotImplementedError

    async def _terminate(self, endpoint_id: str, port: int | None) -> None:
        raise NotImplementedError


class ProcessPooler(Pooler):
    """PgBouncer as a process of the computes' OS user (in its own session, like the
    postmaster), found again by its pid file."""

    async def running(self, endpoint_id: str, port: int | None) -> bool:
        return self.pid(endpoint_id) is not None

    async def _launch(self, spec: ComputeSpec, files: PoolerFiles, socket: Path) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        child = await asyncio.to_thread(self._spawn, binary, files)
        await _wait_listening(child, socket, files)

    def _spawn(self, binary: Path, files: PoolerFiles) -> subprocess.Popen[bytes]:
        return spawn_daemon(
            [str(binary), str(files.config)],
            files.log,
            files.directory,
            self._user,
            preexec_fn=_raise_open_files_limit,
        )

    def pid(self, endpoint_id: str) -> int | None:
        """The running PgBouncer of a compute (its pid file names a live pgbouncer of it)."""
        files = files_of(self._layout, endpoint_id)
        lines = read_lines(files.pid)
        if not lines or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            cmdline = process.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return pid if str(files.config) in cmdline else None

    async def _terminate(self, endpoint_id: str, port: int | None) -> None:
        pid = self.pid(endpoint_id)
        if pid is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            process.terminate()
            if not await wait_gone(process, _STOP_TIMEOUT):
                process.kill()
                await wait_gone(process, _STOP_TIMEOUT)


def _raise_open_files_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _OPEN_FILES if hard == resource.RLIM_INFINITY else min(_OPEN_FILES, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _wait_listening(child: subprocess.Popen[bytes], socket: Path, files: PoolerFiles) -> None:
    async def exited() -> str | None:
        code = child.poll()
        return None if code is None else f"pgbouncer exited with code {code}"

    await wait_listening(socket, files, exited)


async def wait_listening(
    socket: Path, files: PoolerFiles, exited: Callable[[], Awaitable[str | None]]
) -> None:
    """Until PgBouncer's socket and pid file are there; RuntimeError when ``exited`` says
    it ended (with the log's last line) or it took too long."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        reason = await exited()
        if reason is not None:
            lines = read_lines(files.log)
            raise RuntimeError(f"{reason}: " + (lines[-1] if lines else "(no log)"))
        if socket.exists() and files.pid.exists():
            return
        await asyncio.sleep(0.01)
    lines = read_lines(files.log)
    raise RuntimeError(
        f"pgbouncer did not listen within {_READY_TIMEOUT:.0f}s: "
        + (lines[-1] if lines else "(no log)")
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
