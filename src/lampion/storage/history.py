"""A branch's history: the WAL its compute archives and its base (the data dir it started
from, never run). Any point after the base = the base + the WAL replayed to the point.

``DATA_DIR/history/<branch>/`` holds ``wal/`` (written by the compute's archive command),
``base/`` (an immutable copy of the starting data dir) and ``base.json`` (the LSN and time
from which the branch's own history is complete: read once its compute first ran).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lampion.compute.layout import history_dir, restore_command, wal_archive_dir
from lampion.compute.osuser import OsUser
from lampion.storage import copier
from lampion.storage.base import REPLACED_SUFFIX, StorageError


@dataclass(frozen=True)
class BaseMark:
    """Where a branch's restorable history begins."""

    lsn: str
    time: datetime


@dataclass(frozen=True)
class RecoveryTarget:
    """Exactly one of the two is set."""

    lsn: str | None = None
    time: datetime | None = None

    def settings(self) -> dict[str, str]:
        if self.lsn is not None:
            return {"recovery_target_lsn": self.lsn}
        assert self.time is not None
        return {"recovery_target_time": self.time.isoformat(sep=" ")}


class History:
    def __init__(self, branches_dir: Path, user: OsUser, *, reflink: bool):
        self._branches_dir = branches_dir
        self._user = user
        self._reflink = reflink

    def dir(self, branch_id: str) -> Path:
        return history_dir(self._branches_dir / branch_id)

    def wal_dir(self, branch_id: str) -> Path:
        return wal_archive_dir(self._branches_dir / branch_id)

    def base_dir(self, branch_id: str) -> Path:
        return self.dir(branch_id) / "base"

    def _mark_path(self, branch_id: str) -> Path:
        return self.dir(branch_id) / "base.json"

    async def record_base(self, branch_id: str, data_dir: Path) -> None:
        """Keeps the branch's starting data dir (before it ever runs) as its base, and makes
        the directory its compute archives into. Nothing to do when the base exists."""
        await asyncio.to_thread(self._prepare, branch_id)
        base = self.base_dir(branch_id)
        if base.exists():
            return
        temporary = base.with_name("base.tmp")
        await copier.remove_tree(temporary)
        await copier.copy_tree(data_dir, temporary, self._user, reflink=self._reflink)
        temporary.rename(base)

    async def link_base(self, branch_id: str, source: Path) -> None:
        """``source``, an immutable data dir (a version's template), as the branch's base:
        hard links, no copy."""
        await asyncio.to_thread(self._link_base, branch_id, source)

    def _link_base(self, branch_id: str, source: Path) -> None:
        self._prepare(branch_id)
        base = self.base_dir(branch_id)
        if base.exists():
            return
        temporary = base.with_name("base.tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        _link_tree(source, temporary)
        temporary.rename(base)

    def _prepare(self, branch_id: str) -> None:
        root = self.dir(branch_id)
        root.parent.mkdir(parents=True, exist_ok=True)
        root.parent.chmod(0o711)
        self._user.make_private_dir(root)
        self._user.make_private_dir(self.wal_dir(branch_id))

    def mark(self, branch_id: str) -> BaseMark | None:
        try:
            raw = json.loads(self._mark_path(branch_id).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return BaseMark(lsn=raw["lsn"], time=datetime.fromisoformat(raw["time"]))

    async def write_mark(self, branch_id: str, mark: BaseMark) -> None:
        await asyncio.to_thread(self._write_mark, branch_id, mark)

    def _write_mark(self, branch_id: str, mark: BaseMark) -> None:
        path = self._mark_path(branch_id)
        temporary = path.with_name("base.json.tmp")
        temporary.write_text(json.dumps({"lsn": mark.lsn, "time": mark.time.isoformat()}))
        temporary.replace(path)

    def archived(self, branch_id: str, segment: str) -> bool:
        return (self.wal_dir(branch_id) / segment).is_file()

    async def materialize(
        self,
        parent_id: str,
        child_id: str,
        data_dir: Path,
        target: RecoveryTarget,
    ) -> None:
        """A data dir for ``child_id`` that recovers to ``target`` of the parent's history
        and then promotes: the parent's base copied, its archived WAL linked into the
        child's history (which the child's base shares), and the recovery settings."""
        await asyncio.to_thread(self._share_history, parent_id, child_id)
        if data_dir.exists():
            raise StorageError(f"data dir for {child_id} already exists")
        await copier.copy_tree(
            self.base_dir(parent_id), data_dir, self._user, reflink=self._reflink
        )
        await asyncio.to_thread(self._write_recovery, child_id, data_dir, target)

    async def recovering_copy(
        self, source_id: str, data_dir: Path, wal_of: str, target: RecoveryTarget
    ) -> None:
        """``source_id``'s base copied to ``data_dir``, set to recover to ``target`` reading
        WAL from ``wal_of``'s history (which :meth:`share` fills before it starts)."""
        if not self.base_dir(source_id).is_dir():
            raise StorageError(f"branch {source_id} has no base to recover from")
        await copier.copy_tree(
            self.base_dir(source_id), data_dir, self._user, reflink=self._reflink
        )
        await asyncio.to_thread(self._write_recovery, wal_of, data_dir, target)

    async def share(self, source: str, branch_id: str) -> None:
        """``source``'s base and archived WAL linked into ``branch_id``'s history; ``source``
        is a branch id, or a history set aside (``<branch_id>.old``)."""
        await asyncio.to_thread(self._share_history, source, branch_id)

    def _share_history(self, parent_id: str, child_id: str) -> None:
        if not self.base_dir(parent_id).is_dir():
            raise StorageError(f"branch {parent_id} has no base to recover from")
        self._link_base(child_id, self.base_dir(parent_id))
        wal = self.wal_dir(child_id)
        for segment in self.wal_dir(parent_id).iterdir():
            if segment.name.startswith("."):
                continue  # an archive copy in progress
            _link_or_copy(segment, wal / segment.name)

    def _write_recovery(self, child_id: str, data_dir: Path, target: RecoveryTarget) -> None:
        settings = {
            "restore_command": restore_command(self.wal_dir(child_id)),
            **target.settings(),
            "recovery_target_inclusive": "true",
            "recovery_target_action": "promote",
        }
        lines = "".join(f"{name} = '{_conf_quote(value)}'\n" for name, value in settings.items())
        with (data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(lines)
        signal = data_dir / "recovery.signal"
        signal.touch(mode=0o600)
        self._user.chown(signal)

    async def delete(self, branch_id: str) -> None:
        await copier.remove_tree(self.dir(branch_id))

    # A restore swaps a branch's data (storage's ``.new``/``.old`` dirs); its history follows:
    # the old history is set aside with the old data and the new data starts a history of its
    # own (WAL of another lineage must never land beside the old one's, nor replay on its base).

    def _aside(self, branch_id: str) -> Path:
        return self.dir(branch_id).with_name(branch_id + REPLACED_SUFFIX)

    async def set_aside(self, branch_id: str) -> None:
        """The history of the data just swapped out goes aside; an empty one begins."""
        await asyncio.to_thread(self._set_aside, branch_id)

    def _set_aside(self, branch_id: str) -> None:
        current, aside = self.dir(branch_id), self._aside(branch_id)
        if current.exists() and not aside.exists():
            current.rename(aside)
        self._prepare(branch_id)

    async def take_back(self, branch_id: str) -> None:
        """The history set aside comes back (the old data did); the new one goes."""
        aside = self._aside(branch_id)
        if not aside.exists():
            return
        await copier.remove_tree(self.dir(branch_id))
        aside.rename(self.dir(branch_id))

    async def drop_aside(self, branch_id: str) -> None:
        await copier.remove_tree(self._aside(branch_id))

    async def hand_over(self, branch_id: str, new_branch_id: str) -> None:
        """The history set aside follows the old data to the branch that keeps it."""
        aside = self._aside(branch_id)
        if aside.exists():
            aside.rename(self.dir(new_branch_id))

    async def size_bytes(self, branch_id: str) -> int:
        return await asyncio.to_thread(_tree_bytes, self.dir(branch_id))


def _link_tree(source: Path, target: Path) -> None:
    """A tree of hard links (copies across filesystems): bases are never written."""
    target.mkdir(mode=0o700)
    shutil.copystat(source, target)
    for directory, subdirs, files in os.walk(source):
        here = Path(directory)
        dest = target / here.relative_to(source)
        for name in subdirs:
            (dest / name).mkdir(mode=0o700)
            shutil.copystat(here / name, dest / name)
        for name in files:
            _link_or_copy(here / name, dest / name)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def _conf_quote(value: str) -> str:
    return value.replace("'", "''")


def _tree_bytes(root: Path) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                total += (Path(directory) / name).lstat().st_size
            except FileNotFoundError:
                continue
    return total
