"""Copying a PostgreSQL data directory: file by file, reflinked where the filesystem can,
tolerant of files that a running postmaster removes mid-copy, and leaving out what
``pg_basebackup`` leaves out."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from pathlib import Path

from lampion.compute.osuser import OsUser

FICLONE = 0x40049409  # _IOW(0x94, 9, int)

SKIPPED_FILES = frozenset(
    {"postmaster.pid", "postmaster.opts", "pg_internal.init", "backup_label.old"}
)
EMPTIED_DIRS = frozenset(
    {
        "pg_dynshmem",
        "pg_notify",
        "pg_serial",
        "pg_snapshots",
        "pg_stat_tmp",
        "pg_subtrans",
        "pg_replslot",
    }
)
_REFLINK_UNSUPPORTED = {errno.EXDEV, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTTY, errno.ENOSYS}


def reflink_file(source: Path, target: Path) -> bool:
    """Clones ``source`` into ``target`` (created) with FICLONE; False where unsupported."""
    with source.open("rb") as src, target.open("wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
        except OSError as exc:
            if exc.errno in _REFLINK_UNSUPPORTED:
                return False
            raise
    return True


def supports_reflink(directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / ".reflink-probe"
    clone = directory / ".reflink-probe-clone"
    try:
        probe.write_bytes(b"lampion" * 1024)
        return reflink_file(probe, clone)
    except OSError:
        return False
    finally:
        probe.unlink(missing_ok=True)
        clone.unlink(missing_ok=True)


def copy_tree(
    source: Path,
    target: Path,
    owner: OsUser,
    *,
    reflink: bool,
    skip_wal: bool = False,
) -> None:
    """Copies ``source`` to a new ``target``, keeping modes and giving everything to ``owner``."""
    target.mkdir(mode=0o700)
    _own(target, source, owner)
    for directory, subdirs, files in os.walk(source):
        here = Path(directory)
        relative = here.relative_to(source)
        dest_dir = target / relative
        emptied = len(relative.parts) == 1 and relative.parts[0] in EMPTIED_DIRS
        if emptied:
            subdirs[:] = []
        subdirs[:] = [d for d in subdirs if not d.startswith("pgsql_tmp")]
        for name in subdirs:
            try:
                (dest_dir / name).mkdir(mode=0o700)
                _own(dest_dir / name, here / name, owner)
            except FileNotFoundError:
                continue
        if emptied or (skip_wal and relative.parts[:1] == ("pg_wal",)):
            continue
        for name in files:
            if name in SKIPPED_FILES or name.startswith("pgsql_tmp"):
                continue
            try:
                copy_file(here / name, dest_dir / name, owner, reflink=reflink)
            except FileNotFoundError:
                continue  # removed by the running postmaster while we walked


def copy_file(source: Path, target: Path, owner: OsUser, *, reflink: bool) -> None:
    if not (reflink and reflink_file(source, target)):
        shutil.copyfile(source, target)
    _own(target, source, owner)


def _own(target: Path, source: Path, owner: OsUser) -> None:
    try:
        mode = source.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    target.chmod(mode)
    owner.chown(target)
