"""What storage reads of PostgreSQL's own files: LSNs, WAL segment names, ``backup_label``
and the start of ``global/pg_control``, so that it can tell where a base's recovery begins
and which archived segments a base still needs."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from lampion.compute.osuser import OsUser
from lampion.storage.base import BackupFiles, StorageError

SEGMENT_BYTES = 16 * 1024 * 1024
"""``wal_segment_size``: computes keep initdb's default."""

_SEGMENTS_PER_ID = 0x1_0000_0000 // SEGMENT_BYTES
_SEGMENT_NAME = re.compile(r"^[0-9A-F]{24}(\.partial)?$")
_START_WAL_FILE = re.compile(r"START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)")
# ControlFileData: system_identifier u64, pg_control_version u32, catalog_version_no u32,
# state i32 (+4 padding), time i64, checkPoint u64, checkPointCopy.redo u64 (PG 11 and later).
_CONTROL_HEAD = struct.Struct("<QIIi4xqQQ")


def lsn_value(lsn: str) -> int:
    """``0/16B3748`` as a number; ValueError when malformed."""
    high, low = lsn.split("/")
    if not (1 <= len(high) <= 8 and 1 <= len(low) <= 8):
        raise ValueError(lsn)
    return (int(high, 16) << 32) | int(low, 16)


def lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFF_FFFF:X}"


def position_of(lsn: int) -> str:
    """The segment holding ``lsn``, as the timeline-free part of its file name."""
    segment = lsn // SEGMENT_BYTES
    return f"{segment // _SEGMENTS_PER_ID:08X}{segment % _SEGMENTS_PER_ID:08X}"


def segment_position(name: str) -> str | None:
    """A WAL segment file's position (its name without the timeline); None for any other
    archived file (timeline histories, backup history files)."""
    if not _SEGMENT_NAME.match(name):
        return None
    return name[8:24]


def segment_index(position: str) -> int:
    """The segment number at ``position`` (the timeline-free part of a file name)."""
    return int(position[:8], 16) * _SEGMENTS_PER_ID + int(position[8:], 16)


def segment_end(position: str) -> int:
    """The LSN just past the segment at ``position``."""
    return (segment_index(position) + 1) * SEGMENT_BYTES


def start_segment(backup_label: str) -> str:
    """The WAL file a backup's recovery starts from."""
    match = _START_WAL_FILE.search(backup_label)
    if not match:
        raise StorageError("backup label without a start WAL location")
    return match.group(1)


def write_backup_files(target: Path, files: BackupFiles, user: OsUser) -> None:
    """``backup_label`` (and ``tablespace_map``) into an online backup's copy, whose
    ``pg_wal`` must hold the segment its recovery starts from."""
    if not (target / "pg_wal" / start_segment(files.backup_label)).exists():
        raise StorageError("the WAL the copy needs to recover is missing")
    for name, content in (
        ("backup_label", files.backup_label),
        ("tablespace_map", files.tablespace_map),
    ):
        if content:
            path = target / name
            path.write_text(content)
            path.chmod(0o600)
            user.chown(path)


@dataclass(frozen=True)
class Checkpoint:
    lsn: int
    redo: int


def last_checkpoint(data_dir: Path) -> Checkpoint:
    """The latest checkpoint ``pg_control`` records (of a stopped cluster: its shutdown
    checkpoint, the end of its WAL)."""
    try:
        head = (data_dir / "global" / "pg_control").read_bytes()[: _CONTROL_HEAD.size]
        fields = _CONTROL_HEAD.unpack(head)
    except (OSError, struct.error) as exc:
        raise StorageError(f"cannot read pg_control of {data_dir}: {exc}") from exc
    return Checkpoint(lsn=fields[5], redo=fields[6])


def recovery_start(data_dir: Path) -> str:
    """The position of the first segment recovery of ``data_dir`` reads: its backup's start
    when it is an online backup's copy, else its latest checkpoint's redo point."""
    try:
        label = (data_dir / "backup_label").read_text()
    except FileNotFoundError:
        return position_of(last_checkpoint(data_dir).redo)
    return start_segment(label)[8:24]
