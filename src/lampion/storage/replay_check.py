"""Whether a branch's history holds every WAL segment a replay from its base to a point
reads (see :mod:`lampion.storage.wal_gaps`): ``DATA_DIR/history/<branch>/base`` and
``wal/`` read, nothing written."""

from __future__ import annotations

import asyncio
import re
import struct
from datetime import datetime
from pathlib import Path

from lampion.storage import wal_gaps

_BACKUP_START = re.compile(r"^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)", re.MULTILINE)
_CONTROL_REDO = struct.Struct("<QI")
"""``pg_control``'s last checkpoint: its redo LSN (offset 40) and timeline (offset 48)."""
_CONTROL_REDO_OFFSET = 40


async def first_gap(
    history: Path, *, lsn: int | None = None, time: datetime | None = None
) -> wal_gaps.Gap | None:
    """The first missing run of segments between the base's start and the point (an LSN,
    or a time: up to the first segment archived after it, else the newest archived)."""
    return await asyncio.to_thread(_first_gap, history, lsn, time)


def _first_gap(history: Path, lsn: int | None, time: datetime | None) -> wal_gaps.Gap | None:
    start = base_start(history / "base")
    if start is None:
        return None  # no base: the window check refuses the point
    wal = history / "wal"
    names = _names(wal)
    copied = _names(history / "base" / "pg_wal")  # a replay reads the base's own WAL too
    timeline = wal_gaps.latest_timeline(names)
    spans = wal_gaps.timeline_spans(timeline, _read(wal / f"{timeline:08X}.history"))
    usable = sorted(set(wal_gaps.usable_numbers(names, spans)))
    newest = usable[-1] if usable else start.number
    if lsn is not None:
        end = min(wal_gaps.segment_of(lsn), newest)  # beyond: archived before the replay
    else:
        after = _first_archived_after(wal, names, spans, time)
        end = newest if after is None else after
    return wal_gaps.first_gap(names + copied, start.number, end, spans)


def _names(directory: Path) -> list[str]:
    try:
        return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
    except OSError:
        return []


def base_start(base: Path) -> wal_gaps.Segment | None:
    """The segment a replay from this base begins in: its backup label's start (an online
    copy), else its last checkpoint's redo point."""
    label = _read(base / "backup_label")
    if label is not None:
        match = _BACKUP_START.search(label)
        if match:
            return wal_gaps.parse_segment(match.group(1))
    try:
        with (base / "global" / "pg_control").open("rb") as control:
            raw = control.read(_CONTROL_REDO_OFFSET + _CONTROL_REDO.size)
    except OSError:
        return None
    if len(raw) < _CONTROL_REDO_OFFSET + _CONTROL_REDO.size:
        return None
    redo, timeline = _CONTROL_REDO.unpack_from(raw, _CONTROL_REDO_OFFSET)
    return wal_gaps.Segment(timeline, wal_gaps.segment_of(redo))


def _first_archived_after(
    wal: Path,
    names: list[str],
    spans: dict[int, tuple[int, int | None]],
    time: datetime | None,
) -> int | None:
    """A segment archived after ``time`` holds the first commit after it, where a replay
    to ``time`` stops (the archive command stamps each file when it copies it)."""
    if time is None:
        return None
    moment = time.timestamp()
    found: int | None = None
    for name in names:
        numbers = list(wal_gaps.usable_numbers([name], spans))
        if not numbers:
            continue
        try:
            archived_at = (wal / name).stat().st_mtime
        except FileNotFoundError:
            continue
        if archived_at > moment and (found is None or numbers[0] < found):
            found = numbers[0]
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
