"""A branch's history: the WAL its compute archives and its bases (data dirs it can be
recovered from, never run). Any point after a base = that base + the WAL replayed to the
point; recovery starts from the newest base at or before the point, so that replay stays
short.

``DATA_DIR/history/<branch>/`` holds ``wal/`` (written by the compute's archive command),
``base.json`` (the LSN and time from which the branch's own history is complete: read once
its compute first ran) and the bases:

- ``base/``: the starting data dir (the first base), with ``base.point.json``, the point from
  which it is consistent (absent in histories written before snapshots: ``base.json``'s);
- ``snapshots/<lsn as 16 hex digits>/``: further bases taken while the branch lives (online
  backups, or copies of the stopped data dir), each with ``<name>.json`` beside it: the
  point it is consistent from (``lsn``, ``time``) and ``start``, the position of the first
  WAL segment its recovery reads. A snapshot without its ``.json`` is unfinished.

A branch made from a point of another's history links in (hard links) that history's bases
up to the point and its WAL. Each branch prunes its own directory; the bytes go with the last
link.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lampion.compute.layout import ensure_archive_dir, history_dir, restore_command, wal_archive_dir
from lampion.compute.osuser import OsUser
from lampion.storage import copier, wal
from lampion.storage.base import REPLACED_SUFFIX, OnlineBackup, StorageError

FIRST_BASE = "base"
SNAPSHOTS = "snapshots"
_TAKING = ".taking"
_PRUNED = ".pruned-"

_locks: dict[Path, asyncio.Lock] = {}


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


@dataclass(frozen=True)
class Base:
    """A data dir of the branch's history and the point it is consistent from."""

    path: Path
    lsn: str
    time: datetime

    @property
    def lsn_value(self) -> int:
        return wal.lsn_value(self.lsn)

    @property
    def first(self) -> bool:
        return self.path.name == FIRST_BASE

    def precedes(self, target: RecoveryTarget) -> bool:
        """Recovery from this base can reach ``target``."""
        if target.lsn is not None:
            return self.lsn_value <= wal.lsn_value(target.lsn)
        assert target.time is not None
        return self.time <= target.time

    def start(self) -> str:
        """The position of the first archived WAL segment recovering it reads."""
        if not self.first:
            start: str = json.loads(_meta_path(self.path).read_text())["start"]
            return start
        return wal.recovery_start(self.path)


@dataclass(frozen=True)
class Pruned:
    bases: int = 0
    segments: int = 0


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
        return self.dir(branch_id) / FIRST_BASE

    def snapshots_dir(self, branch_id: str) -> Path:
        return self.dir(branch_id) / SNAPSHOTS

    def _mark_path(self, branch_id: str) -> Path:
        return self.dir(branch_id) / "base.json"

    def _first_point_path(self, branch_id: str) -> Path:
        return self.dir(branch_id) / "base.point.json"

    @asynccontextmanager
    async def _held(self, branch_id: str) -> AsyncIterator[None]:
        """One reader or writer of a branch's bases and WAL at a time (a prune never removes
        what a recovery is linking or copying)."""
        lock = _locks.setdefault(self.dir(branch_id), asyncio.Lock())
        async with lock:
            yield

    async def record_base(self, branch_id: str, data_dir: Path) -> None:
        """Keeps the branch's starting data dir (before it ever runs) as its base, and makes
        the directory its compute archives into. Nothing to do when it has a base."""
        await asyncio.to_thread(self._prepare, branch_id)
        if self.has_base(branch_id):
            return
        base = self.base_dir(branch_id)
        temporary = base.with_name("base.tmp")
        await copier.remove_tree(temporary)
        await copier.copy_tree(data_dir, temporary, self._user, reflink=self._reflink)
        temporary.rename(base)

    def has_base(self, branch_id: str) -> bool:
        if self.base_dir(branch_id).is_dir():
            return True
        snapshots = self.snapshots_dir(branch_id)
        return snapshots.is_dir() and any(snapshots.glob("*.json"))

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
        ensure_archive_dir(self._branches_dir / branch_id, self._user)
        self.snapshots_dir(branch_id).mkdir(mode=0o700, exist_ok=True)

    def mark(self, branch_id: str) -> BaseMark | None:
        return _read_mark(self._mark_path(branch_id))

    async def write_mark(self, branch_id: str, mark: BaseMark) -> None:
        """Where the branch's own history begins; also the point of its first base when
        that base is its own (not linked in from another history)."""
        await asyncio.to_thread(self._write_mark, branch_id, mark)

    def _write_mark(self, branch_id: str, mark: BaseMark) -> None:
        if self.base_dir(branch_id).is_dir() and not self._first_point_path(branch_id).exists():
            _write_json(self._first_point_path(branch_id), mark)
        _write_json(self._mark_path(branch_id), mark)

    def bases(self, branch_id: str) -> list[Base]:
        """The branch's bases, oldest first."""
        found = []
        first = self.base_dir(branch_id)
        point = _read_mark(self._first_point_path(branch_id)) or self.mark(branch_id)
        if first.is_dir() and point is not None:
            found.append(Base(first, point.lsn, point.time))
        snapshots = self.snapshots_dir(branch_id)
        for meta in snapshots.glob("*.json") if snapshots.is_dir() else ():
            path, point = meta.with_suffix(""), _read_mark(meta)
            if point is not None and path.is_dir():
                found.append(Base(path, point.lsn, point.time))
        return sorted(found, key=lambda base: (base.lsn_value, base.time))

    def oldest_base(self, branch_id: str) -> Base | None:
        found = self.bases(branch_id)
        return found[0] if found else None

    def base_for(self, branch_id: str, target: RecoveryTarget) -> Base:
        """The newest base recovery to ``target`` can start from."""
        usable = [base for base in self.bases(branch_id) if base.precedes(target)]
        if not usable:
            raise StorageError(f"branch {branch_id} has no base at or before the point")
        return usable[-1]

    def archived(self, branch_id: str, segment: str) -> bool:
        return (self.wal_dir(branch_id) / segment).is_file()

    def archived_end(self, branch_id: str) -> int:
        """The LSN up to which whole segments are archived (0: none are)."""
        positions = filter(None, map(wal.segment_position, _names(self.wal_dir(branch_id))))
        return max((wal.segment_end(position) for position in positions), default=0)

    async def materialize(
        self,
        parent_id: str,
        child_id: str,
        data_dir: Path,
        target: RecoveryTarget,
    ) -> None:
        """A data dir for ``child_id`` that recovers to ``target`` of the parent's history
        and then promotes: the parent's newest base before the target copied, its bases up
        to the target and its archived WAL linked into the child's history, and the recovery
        settings."""
        async with self._held(parent_id):
            await asyncio.to_thread(self._share_history, parent_id, child_id, target)
            if data_dir.exists():
                raise StorageError(f"data dir for {child_id} already exists")
            base = self.base_for(parent_id, target)
            await copier.copy_tree(base.path, data_dir, self._user, reflink=self._reflink)
        await asyncio.to_thread(self._write_recovery, child_id, data_dir, target)

    async def recovering_copy(
        self, source_id: str, data_dir: Path, wal_of: str, target: RecoveryTarget
    ) -> None:
        """``source_id``'s newest base before ``target`` copied to ``data_dir``, set to
        recover to ``target`` reading WAL from ``wal_of``'s history (which :meth:`share`
        fills before it starts)."""
        async with self._held(source_id):
            base = self.base_for(source_id, target)
            await copier.copy_tree(base.path, data_dir, self._user, reflink=self._reflink)
        await asyncio.to_thread(self._write_recovery, wal_of, data_dir, target)

    async def share(self, source: str, branch_id: str, until: RecoveryTarget | None = None) -> None:
        """``source``'s bases (those up to ``until``: later ones lie on another timeline
        than the branch's) and archived WAL linked into ``branch_id``'s history; ``source``
        is a branch id, or a history set aside (``<branch_id>.old``)."""
        async with self._held(source):
            await asyncio.to_thread(self._share_history, source, branch_id, until)

    def _share_history(
        self, source: str, branch_id: str, until: RecoveryTarget | None = None
    ) -> None:
        bases = [b for b in self.bases(source) if until is None or b.precedes(until)]
        if not bases:
            raise StorageError(f"branch {source} has no base to recover from")
        self._prepare(branch_id)
        for base in bases:
            if base.first:
                self._link_base(branch_id, base.path)
                if not self._first_point_path(branch_id).exists():
                    _write_json(self._first_point_path(branch_id), BaseMark(base.lsn, base.time))
                continue
            target = self.snapshots_dir(branch_id) / base.path.name
            if not target.exists():
                temporary = target.with_name(_TAKING + "-" + base.path.name)
                shutil.rmtree(temporary, ignore_errors=True)
                _link_tree(base.path, temporary)
                temporary.rename(target)
            _link_or_copy(_meta_path(base.path), _meta_path(target))
        link_archive(self.wal_dir(source), self.wal_dir(branch_id))

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

    # Further bases. Each is made under a temporary name and renamed into place; its
    # ``.json`` is written last, so that a base is either whole or not counted.

    async def snapshot_running(
        self,
        branch_id: str,
        data_dir: Path,
        backup: OnlineBackup,
        point: Callable[[], Awaitable[BaseMark]],
    ) -> Base:
        """A base from a running compute's data dir, copied under ``backup`` (as a clone is);
        ``point``, asked once the backup has stopped, is where it is consistent from."""
        async with self._held(branch_id):
            temporary = await self._fresh_temporary(branch_id)
            try:
                async with backup:
                    await copier.copy_tree(
                        data_dir, temporary, self._user, reflink=self._reflink, skip_wal=True
                    )
                    files = await backup.stop()
                    first_segment = wal.start_segment(files.backup_label)
                    await copier.copy_wal(
                        data_dir, temporary, self._user, first_segment, reflink=self._reflink
                    )
                mark = await point()
                await asyncio.to_thread(wal.write_backup_files, temporary, files, self._user)
                return await asyncio.to_thread(
                    self._keep_snapshot, branch_id, temporary, mark, first_segment[8:24]
                )
            finally:
                await copier.remove_tree(temporary)

    async def snapshot_stopped(self, branch_id: str, data_dir: Path, time: datetime) -> Base:
        """A base from a cleanly stopped data dir: consistent at its shutdown checkpoint."""
        async with self._held(branch_id):
            temporary = await self._fresh_temporary(branch_id)
            try:
                await copier.copy_tree(data_dir, temporary, self._user, reflink=self._reflink)
                checkpoint = await asyncio.to_thread(wal.last_checkpoint, temporary)
                mark = BaseMark(wal.lsn_text(checkpoint.lsn), time)
                return await asyncio.to_thread(
                    self._keep_snapshot,
                    branch_id,
                    temporary,
                    mark,
                    wal.position_of(checkpoint.redo),
                )
            finally:
                await copier.remove_tree(temporary)

    async def _fresh_temporary(self, branch_id: str) -> Path:
        await asyncio.to_thread(self._prepare, branch_id)
        temporary = self.snapshots_dir(branch_id) / _TAKING
        await copier.remove_tree(temporary)
        return temporary

    def _keep_snapshot(self, branch_id: str, temporary: Path, mark: BaseMark, start: str) -> Base:
        final = self.snapshots_dir(branch_id) / f"{wal.lsn_value(mark.lsn):016X}"
        meta = _meta_path(final)
        if not meta.exists():
            if final.exists():  # an unfinished one of an earlier attempt
                shutil.rmtree(final)
            temporary.rename(final)
            _write_json(meta, mark, start=start)
        return Base(final, mark.lsn, mark.time)

    async def prune(self, branch_id: str, window_start: datetime) -> Pruned:
        """Removes the bases older than the newest one at or before ``window_start`` and
        the WAL segments before that base's start (and what unfinished snapshots left)."""
        async with self._held(branch_id):
            doomed, segments = await asyncio.to_thread(self._set_out, branch_id, window_start)
            for path in doomed:
                await copier.remove_tree(path)
        return Pruned(bases=sum(1 for p in doomed if p.name.startswith(_PRUNED)), segments=segments)

    def prunable(self, branch_id: str, window_start: datetime) -> bool:
        """Whether :meth:`prune` would remove a base or a WAL segment (cheap: no change)."""
        if self._leftovers(branch_id):
            return True
        kept, older = self._outgrown(branch_id, window_start)
        if kept is None:
            return False
        return bool(older) or any(
            position is not None and position < kept.start()
            for position in map(wal.segment_position, _names(self.wal_dir(branch_id)))
        )

    def _leftovers(self, branch_id: str) -> list[Path]:
        """What an interrupted prune or snapshot left: bases set out, snapshots unfinished."""
        root, snapshots = self.dir(branch_id), self.snapshots_dir(branch_id)
        found = [p for p in _entries_of(root) if p.name.startswith(_PRUNED)]
        return found + [p for p in _entries(snapshots) if p.is_dir() and not _meta_path(p).exists()]

    def _outgrown(self, branch_id: str, window_start: datetime) -> tuple[Base | None, list[Base]]:
        """The newest base at or before ``window_start`` (None: none is) and those before it."""
        bases = self.bases(branch_id)
        before = [base for base in bases if base.time <= window_start]
        if not before:
            return None, []
        kept = before[-1]
        return kept, [base for base in bases if base.lsn_value < kept.lsn_value]

    def _set_out(self, branch_id: str, window_start: datetime) -> tuple[list[Path], int]:
        """Renames what goes out of the history (a base first loses its name, then its
        point) and removes the WAL no kept base needs; returns the trees to remove."""
        root = self.dir(branch_id)
        if not root.is_dir():
            return [], 0
        doomed = self._leftovers(branch_id)
        kept, older = self._outgrown(branch_id, window_start)
        if kept is None:
            return doomed, 0
        for base in older:
            aside = root / f"{_PRUNED}{base.path.name}"
            base.path.rename(aside)
            doomed.append(aside)
            meta = self._first_point_path(branch_id) if base.first else _meta_path(base.path)
            meta.unlink(missing_ok=True)
        start, removed = kept.start(), 0
        for segment in _entries(self.wal_dir(branch_id)):
            position = wal.segment_position(segment.name)
            if position is not None and position < start:
                segment.unlink(missing_ok=True)
                removed += 1
        return doomed, removed

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


def link_archive(source: Path, target: Path) -> None:
    """The archived WAL in ``source`` linked into ``target`` (copied across filesystems);
    copies still in progress are left out and files already there kept."""
    for segment in _entries(source):
        _link_or_copy(segment, target / segment.name)


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


def _meta_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + ".json")


def _read_mark(path: Path) -> BaseMark | None:
    try:
        raw = json.loads(path.read_text())
        return BaseMark(lsn=raw["lsn"], time=datetime.fromisoformat(raw["time"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, mark: BaseMark, **extra: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"lsn": mark.lsn, "time": mark.time.isoformat(), **extra}))
    temporary.replace(path)


def _entries(directory: Path) -> list[Path]:
    """A WAL archive's files, leaving out copies in progress (dot files)."""
    try:
        return [p for p in directory.iterdir() if not p.name.startswith(".")]
    except FileNotFoundError:
        return []


def _entries_of(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def _names(directory: Path) -> list[str]:
    return [path.name for path in _entries(directory)]
