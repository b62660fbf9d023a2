"""The computes' local daemons (a postmaster, a PgBouncer): started detached as the
computes' OS user, logging to a file, and waited out."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from lampion.compute.osuser import OsUser


async def wait_gone(process: psutil.Process, timeout: float) -> bool:
    """True once the process has exited (a zombie child of ours is reaped); False when it
    still runs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                with contextlib.suppress(ChildProcessError, psutil.Error):
                    process.wait(timeout=0)
                return True
        except psutil.NoSuchProcess:
            return True
        await asyncio.sleep(0.02)
    return False


def spawn_daemon(
    argv: list[str],
    log: Path,
    cwd: Path,
    user: OsUser,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Starts ``argv`` in a session of its own as ``user``, its output appended to ``log``,
    with a minimal environment (blocking: call it in a thread)."""
    with log.open("ab") as log_handle:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
            preexec_fn=preexec_fn,
            **user.popen_kwargs(),
        )
