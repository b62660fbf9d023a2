"""The `process` backend: each compute is a real `postgres` postmaster run as the PG OS user.

Postmasters run in their own session, so they outlive a control-plane restart and are
adopted again by reading ``postmaster.pid``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import structlog

from lampion.compute.base import (
    AdminTarget,
    ComputeSpec,
    ComputeStartFailed,
    ComputeStats,
    ComputeStatus,
)
from lampion.compute.layout import ComputeLayout, postmaster_ready, read_lines
from lampion.compute.osuser import OsUser
from lampion.compute.pooler import ProcessPooler
from lampion.compute.processes import spawn_daemon, wait_gone

log = structlog.get_logger(__name__)

_READY_POLL = 0.01
_STOP_TIMEOUT = 15.0


class ProcessBackend:
    def __init__(self, computes_dir: Path, user: OsUser, listen_host: str, start_timeout: float):
        self._layout = ComputeLayout(computes_dir)
        self._user = user
        self._listen_host = listen_host
        self._start_timeout = start_timeout
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._pooler = ProcessPooler(self._layout, user)

    # -- paths ---------------------------------------------------------------------------

    def log_path(self, endpoint_id: str) -> Path:
        return self._layout.log_path(endpoint_id)

    def admin_target(self, spec: ComputeSpec) -> AdminTarget:
        return self._layout.admin_target(spec)

    async def address(self, endpoint_id: str, port: int) -> tuple[str, int]:
        return self._listen_host, port

    def pooler_socket(self, endpoint_id: str, port: int) -> str:
        return str(self._pooler.socket(endpoint_id, port))

    async def close(self) -> None:
        pass

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, spec: ComputeSpec) -> None:
        """Starts postgres, then its pooler; on a running compute, brings the pooler in
        line with the spec."""
        if (await self.status(spec)).running:
            await self._pooler.converge(spec)
            return
        await self._kill_orphans(spec)
        spawning = asyncio.ensure_future(asyncio.to_thread(self._spawn, spec))
        try:
            child = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            child = await spawning  # a postmaster forked meanwhile must not outlive us
            await self._terminate(child.pid, spec.endpoint_id)
            raise
        self._children[spec.endpoint_id] = child
        try:
            await self._wait_ready(spec, child)
        except BaseException:
            await self._terminate(child.pid, spec.endpoint_id)
            raise
        log.info("compute.started", endpoint_id=spec.endpoint_id, pid=child.pid, port=spec.port)
        await self._pooler.converge(spec)

    def _spawn(self, spec: ComputeSpec) -> subprocess.Popen[bytes]:
        """Forks the postmaster (in a thread: forking a large process takes a while)."""
        _reap_if_zombie_child(spec.data_dir / "postmaster.pid")
        self._layout.prepare(spec, self._user)
        argv = [
            str(spec.install.tool("postgres")),
            *self._layout.server_args(spec, self._listen_host),
        ]
        return spawn_daemon(argv, self.log_path(spec.endpoint_id), spec.data_dir, self._user)

    async def _wait_ready(self, spec: ComputeSpec, child: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._start_timeout
        pid_file = spec.data_dir / "postmaster.pid"
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise ComputeStartFailed(
                    f"postgres exited with code {child.returncode} while starting: "
                    + self._last_log_line(spec.endpoint_id)
                )
            lines = read_lines(pid_file)
            if postmaster_ready(lines) and lines[0].strip() == str(child.pid):
                return
            await asyncio.sleep(_READY_POLL)
        raise ComputeStartFailed(f"postgres was not ready within {self._start_timeout:.0f}s")

    def _last_log_line(self, endpoint_id: str) -> str:
        lines = read_lines(self.log_path(endpoint_id))
        return lines[-1] if lines else "(no log)"

    async def stop(self, spec: ComputeSpec) -> None:
        await self._pooler.stop(spec.endpoint_id, spec.port)
        status = await self.status(spec)
        if status.running and status.pid:
            await self._terminate(status.pid, spec.endpoint_id)
            log.info("compute.stopped", endpoint_id=spec.endpoint_id, pid=status.pid)
        self._reap(spec.endpoint_id)

    async def _terminate(self, pid: int, endpoint_id: str) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
        try:
            process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return
        for sig, grace in ((signal.SIGINT, _STOP_TIMEOUT), (signal.SIGQUIT, 5.0)):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(sig)
            if await wait_gone(process, grace):
                self._reap(endpoint_id)
                return
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
        await wait_gone(process, 5.0)
        self._reap(endpoint_id)

    async def _kill_orphans(self, spec: ComputeSpec) -> None:
        """Backends of a postmaster that was killed hold its shared memory for a moment;
        a new postmaster on the same data dir refuses to start until they are gone. Only a
        postmaster that did not shut down cleanly leaves its ``postmaster.pid`` behind, so
        without one there is nothing to look for (and no process table to scan)."""
        if not (spec.data_dir / "postmaster.pid").exists():
            return
        orphans = await asyncio.to_thread(self._find_orphans, spec.endpoint_id)
        for process in orphans:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        for process in orphans:
            await wait_gone(process, 5.0)
        if orphans:
            log.warning("compute.orphans_killed", endpoint_id=spec.endpoint_id, count=len(orphans))

    def _find_orphans(self, endpoint_id: str) -> list[psutil.Process]:
        title = f"postgres: {endpoint_id}: "
        orphans = []
        for process in psutil.process_iter(["cmdline", "uids", "ppid"]):
            cmdline = process.info["cmdline"] or []
            uids = process.info["uids"]
            if not (cmdline and cmdline[0].startswith(title) and uids):
                continue
            if uids.real == self._user.uid and not _has_live_postmaster(process.info["ppid"]):
                orphans.append(process)
        return orphans

    def _reap(self, endpoint_id: str) -> None:
        child = self._children.get(endpoint_id)
        if child is not None and child.poll() is not None:
            del self._children[endpoint_id]

    async def destroy(self, spec: ComputeSpec) -> None:
        await self.stop(spec)
        await asyncio.to_thread(self._layout.remove, spec.endpoint_id)

    async def remove_orphan(self, endpoint_id: str) -> None:
        await self._pooler.stop(endpoint_id)
        pid = (await self.running_endpoints()).get(endpoint_id)
        if pid is not None:
            await self._terminate(pid, endpoint_id)
        await asyncio.to_thread(self._layout.remove, endpoint_id)

    # -- observation ---------------------------------------------------------------------

    async def status(self, spec: ComputeSpec) -> ComputeStatus:
        self._reap(spec.endpoint_id)
        lines = read_lines(spec.data_dir / "postmaster.pid")
        if not lines:
            return ComputeStatus(running=False)
        try:
            pid = int(lines[0])
        except ValueError:
            return ComputeStatus(running=False)
        if not _is_postmaster_of(pid, spec.data_dir):
            return ComputeStatus(running=False)
        return ComputeStatus(running=True, pid=pid)

    async def stats(self, spec: ComputeSpec) -> ComputeStats | None:
        return (await self.stats_many([spec])).get(spec.endpoint_id)

    async def stats_many(self, specs: list[ComputeSpec]) -> dict[str, ComputeStats]:
        postmasters = {}
        for spec in specs:
            status = await self.status(spec)
            if status.running and status.pid is not None:
                postmasters[status.pid] = spec.endpoint_id
        if not postmasters:
            return {}
        return await asyncio.to_thread(_sum_process_trees, postmasters)

    async def running_endpoints(self) -> dict[str, int]:
        return await asyncio.to_thread(self._scan_running)

    def _scan_running(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for process in psutil.process_iter(["pid", "cmdline", "status"]):
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            args = dict(arg.split("=", 1) for arg in process.info["cmdline"] or [] if "=" in arg)
            endpoint_id = args.get("cluster_name")
            socket_dir = args.get("unix_socket_directories")
            if endpoint_id and socket_dir == str(self._layout.socket_dir(endpoint_id)):
                found[endpoint_id] = process.info["pid"]
        return found


def _sum_process_trees(postmasters: dict[int, str]) -> dict[str, ComputeStats]:
    """CPU seconds and RSS of each postmaster and its children, from one process-table scan
    (asking each process for its children would rescan the table every time)."""
    cpu: dict[str, float] = {}
    rss: dict[str, int] = {}
    for process in psutil.process_iter(["pid", "ppid", "cpu_times", "memory_info"]):
        info = process.info
        endpoint_id = postmasters.get(info["pid"]) or postmasters.get(info["ppid"])
        if endpoint_id is None or info["cpu_times"] is None or info["memory_info"] is None:
            continue
        cpu[endpoint_id] = (
            cpu.get(endpoint_id, 0.0) + info["cpu_times"].user + info["cpu_times"].system
        )
        rss[endpoint_id] = rss.get(endpoint_id, 0) + info["memory_info"].rss
    return {e: ComputeStats(cpu_seconds=cpu[e], memory_bytes=rss[e]) for e in cpu}


def _has_live_postmaster(ppid: int) -> bool:
    """A backend whose parent is a running postmaster belongs to a live server (perhaps
    another control plane's), not to one that was killed."""
    try:
        parent = psutil.Process(ppid)
        return parent.status() != psutil.STATUS_ZOMBIE and "-D" in parent.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _reap_if_zombie_child(pid_file: Path) -> None:
    """A postmaster of ours that died stays a zombie until waited for, and postgres takes
    a zombie's pid in ``postmaster.pid`` for a live postmaster."""
    lines = read_lines(pid_file)
    if lines and lines[0].strip().isdigit():
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(int(lines[0]), os.WNOHANG)


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return "-D" in cmdline and str(data_dir) in cmdline
