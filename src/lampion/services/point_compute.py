"""A throwaway compute over a branch as it was at a point of its history, for reading it
(a schema diff against the past): the branch's base copied and recovered to the point,
started on a port outside the endpoints' range, then stopped and removed again.

Its compute and the storage dir holding everything it writes are named ``pit-<random>``:
never a branch id (``br-…``) nor an endpoint id, so nothing else writes there. No row names
them, so the reconciler removes both as orphans if this process dies meanwhile; while in use
a lock on that name keeps it away. The data dir is ``pit-x/data/pit-x`` so that the archive a
compute writes (``history/<name>/wal`` two levels above its data dir) lands inside ``pit-x``
as well: archiving works (a failing archive command holds a shutdown for seconds) and goes
away with it. Recovery reads the branch's WAL from there too (linked in): a container only
sees its own archive dir.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog

from lampion import ids
from lampion.compute.base import ComputeSpec
from lampion.compute.installations import PgInstall
from lampion.compute.layout import history_dir, read_lines, wal_archive_dir
from lampion.compute.osuser import OsUser
from lampion.errors import LampionError, ServiceUnavailable
from lampion.pg import recovery
from lampion.runtime import Runtime
from lampion.services import computes, history
from lampion.storage.history import RecoveryTarget, link_archive

log = structlog.get_logger(__name__)

NAME_PREFIX = "pit-"


def temporary_name() -> str:
    return NAME_PREFIX + ids.random_chars(16)


@asynccontextmanager
async def at_point(
    rt: Runtime, branch_id: str, install: PgInstall, point: RecoveryTarget
) -> AsyncIterator[ComputeSpec]:
    """A running, promoted compute holding ``branch_id``'s data as of ``point`` (whose WAL
    must be archived already). Removed on leaving, also on failure or cancellation."""
    name = temporary_name()
    spec = ComputeSpec(
        endpoint_id=name,
        data_dir=rt.storage.path(name) / "data" / name,
        port=_free_port(rt.settings.compute_listen_host),
        install=install,
    )
    async with rt.locks.exclusive(name, f"temporary compute {name}"):
        try:
            try:
                await _prepare(rt, branch_id, spec.data_dir, point)
                await rt.compute.start(spec)
                await _until_promoted(rt, spec)
            except LampionError:
                raise
            except Exception as exc:  # a missing WAL segment too: recovery stops short
                why = _fatal_line(rt, name) or str(exc)
                log.error("point_compute.failed", branch_id=branch_id, error=why)
                raise ServiceUnavailable(
                    f"The branch could not be recovered to that point: {why}"
                ) from exc
            yield spec
        finally:
            await _remove(rt, spec)


async def _prepare(rt: Runtime, branch_id: str, data_dir: Path, point: RecoveryTarget) -> None:
    """The branch's base copied to ``data_dir``, set to recover to ``point`` from its own
    archive dir (a container sees no other), which holds links to the branch's WAL."""
    histories = history.of(rt)
    # The history of a "branch" at this relative path is the compute's own (pit-x/history/pit-x).
    wal_of = str(data_dir.relative_to(rt.settings.branches_dir))
    if histories.wal_dir(wal_of) != wal_archive_dir(data_dir):
        raise RuntimeError("the history layout changed: the compute would not find its WAL")
    await asyncio.to_thread(_make_dirs, rt.user, data_dir)
    await asyncio.to_thread(link_archive, histories.wal_dir(branch_id), wal_archive_dir(data_dir))
    await histories.recovering_copy(branch_id, data_dir, wal_of, point)


def _fatal_line(rt: Runtime, name: str) -> str | None:
    """What postgres said last before it gave up, without its log line prefix."""
    fatal = [line for line in read_lines(rt.compute.log_path(name)) if "FATAL:" in line]
    return fatal[-1].split("FATAL:", 1)[1].strip() if fatal else None


def _make_dirs(user: OsUser, data_dir: Path) -> None:
    """The dirs above the data dir (which the copy makes), and the archive's."""
    for directory in (data_dir.parent.parent, data_dir.parent, history_dir(data_dir).parent):
        directory.mkdir(mode=0o711, exist_ok=True)
        directory.chmod(0o711)  # whatever the umask
    user.make_private_dir(history_dir(data_dir))
    user.make_private_dir(wal_archive_dir(data_dir))


async def _until_promoted(rt: Runtime, spec: ComputeSpec) -> None:
    target = rt.compute.admin_target(spec)
    deadline = time.monotonic() + rt.settings.compute_start_timeout
    while await recovery.in_recovery(target):
        if time.monotonic() > deadline:
            raise ServiceUnavailable("The branch's history is still being replayed; try again")
        await asyncio.sleep(0.05)


async def _remove(rt: Runtime, spec: ComputeSpec) -> None:
    """Finishes even when the request is cancelled meanwhile. Best effort: whatever stays
    behind is an orphan the reconciler removes."""
    await asyncio.shield(_remove_now(rt, spec))


async def _remove_now(rt: Runtime, spec: ComputeSpec) -> None:
    try:
        await computes.destroy(rt, spec)
        await rt.storage.delete(spec.endpoint_id)
    except Exception as exc:
        log.error("point_compute.remove_failed", name=spec.endpoint_id, error=str(exc))


def _free_port(host: str) -> int:
    """A port the system hands out (ephemeral, outside the endpoints' configured range)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
