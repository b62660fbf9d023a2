"""Waiting for a local process (a postmaster, a PgBouncer) to be gone."""

from __future__ import annotations

import asyncio
import contextlib
import time

import psutil


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
