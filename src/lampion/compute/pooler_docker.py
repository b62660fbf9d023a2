"""Runs a compute's PgBouncer inside its container (``docker exec``), so that it shares the
compute's CPU and memory limits and ends with it. Its files and unix socket are in the
compute's directories, which are bind-mounted at the same paths, so the proxy reaches it
from the host as with the process backend. The image carries ``/usr/sbin/pgbouncer``
(``scripts/build-local-compute-image.sh``, ``docker/compute.Dockerfile``)."""

from __future__ import annotations

import asyncio
import socket as sockets
import time
from collections.abc import Callable
from pathlib import Path

from aiodocker.containers import DockerContainer

from lampion.compute.base import ComputeSpec
from lampion.compute.layout import ComputeLayout
from lampion.compute.osuser import OsUser
from lampion.compute.pooler import Pooler, files_of, wait_listening
from lampion.compute.pooler_config import PoolerFiles

PGBOUNCER_IN_IMAGE = "/usr/sbin/pgbouncer"
_STOP_TIMEOUT = 5.0
# the image has dash but no `kill` or `cat` binaries: the shell's builtins do it
_SIGNAL_FROM_PID_FILE = 'read pid < "$0" && kill "$pid"'


class DockerPooler(Pooler):
    def __init__(
        self,
        layout: ComputeLayout,
        user: OsUser,
        container: Callable[[str], DockerContainer],
    ):
        """``container``: an endpoint's container (the backend names them)."""
        super().__init__(layout, user)
        self._container = container

    async def running(self, endpoint_id: str, port: int | None) -> bool:
        if port is None:
            return False  # only its container's end stops it then
        return await asyncio.to_thread(_accepts, self.socket(endpoint_id, port))

    async def _launch(self, spec: ComputeSpec, files: PoolerFiles, socket: Path) -> None:
        container = self._container(spec.endpoint_id)
        execution = await container.exec(
            [PGBOUNCER_IN_IMAGE, str(files.config)],
            stdout=False,
            stderr=False,
            user=f"{self._user.uid}:{self._user.gid}",
            workdir=str(files.directory),
        )
        await execution.start(detach=True)

        async def exited() -> str | None:
            state = await execution.inspect()
            if state.get("Running") or state.get("ExitCode") is None:
                return None
            return f"pgbouncer exited in the container with code {state['ExitCode']}"

        await wait_listening(socket, files, exited)

    async def _terminate(self, endpoint_id: str, port: int | None) -> None:
        files = files_of(self._layout, endpoint_id)
        container = self._container(endpoint_id)
        execution = await container.exec(
            ["/bin/sh", "-c", _SIGNAL_FROM_PID_FILE, str(files.pid)],
            stdout=False,
            stderr=False,
            user=f"{self._user.uid}:{self._user.gid}",
        )
        await execution.start(detach=True)
        deadline = time.monotonic() + _STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not await self.running(endpoint_id, port):
                return
            await asyncio.sleep(0.02)


def _accepts(path: Path) -> bool:
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
