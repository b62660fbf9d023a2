"""Copies and deletes of data dirs in child processes, at a lower CPU priority, so that their
work (a Python loop over thousands of files) never holds the control plane's GIL or event loop.

A copy is ``python -m lampion.storage.copy_worker <request as JSON>`` (the code of
``tree.py``); a delete is ``rm -rf``. A cancelled copy kills its child before returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from lampion.compute.osuser import OsUser
from lampion.storage.base import StorageError

NICENESS = 10
"""How much lower than the control plane's the copies' CPU priority is."""

_NICE = shutil.which("nice")


async def copy_tree(
    source: Path, target: Path, owner: OsUser, *, reflink: bool, skip_wal: bool = False
) -> None:
    """``tree.copy_tree`` in a child process."""
    await _run_copier(
        {
            "op": "tree",
            "source": str(source),
            "target": str(target),
            "owner": [owner.name, owner.uid, owner.gid],
            "reflink": reflink,
            "skip_wal": skip_wal,
        }
    )


async def copy_wal(
    source: Path, target: Path, owner: OsUser, start_segment: str, *, reflink: bool
) -> None:
    """The WAL segments recovery replays, from ``start_segment`` on, in a child process."""
    await _run_copier(
        {
            "op": "wal",
            "source": str(source),
            "target": str(target),
            "owner": [owner.name, owner.uid, owner.gid],
            "start_segment": start_segment,
            "reflink": reflink,
        }
    )


async def remove_tree(path: Path) -> None:
    """``rm -rf`` in a child process; runs to its end even when the caller is cancelled (a
    half-removed data dir helps nobody)."""
    child = await asyncio.create_subprocess_exec(
        *_low_priority(["rm", "-rf", "--", str(path)]),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.shield(child.wait())
    except asyncio.CancelledError:
        await child.wait()
        raise


def _low_priority(argv: list[str]) -> list[str]:
    return [_NICE, "-n", str(NICENESS), *argv] if _NICE else argv


async def _run_copier(request: dict[str, Any]) -> None:
    child = await asyncio.create_subprocess_exec(
        *_low_priority([sys.executable, "-m", "lampion.storage.copy_worker", json.dumps(request)]),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd="/",
    )
    try:
        _, stderr = await child.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    if child.returncode != 0:
        raise _error_from(stderr.decode(errors="replace"), request)


def _error_from(stderr: str, request: dict[str, Any]) -> Exception:
    """The child's OSError as an OSError again (a full disk stays ENOSPC), else StorageError."""
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
        failure = json.loads(last)
        if failure.get("errno") is not None:
            return OSError(failure["errno"], failure["message"], failure.get("filename"))
        return StorageError(failure["message"])
    return StorageError(f"copying {request['source']} failed: {last or 'no output'}")
