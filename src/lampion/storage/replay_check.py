"""Whether a branch's history holds every WAL segment a replay from a base to a point reads
(see :mod:`lampion.storage.wal_gaps`): the base's start and its own ``pg_wal``, and the
history's ``wal/``, read; nothing written."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from lampion.storage import wal, wal_gaps
from lampion.storage.history import Base


async def first_gap(
    history: Path, base: Base, *, lsn: int | None = None, time: datetime | None = None
) -> wal_gaps.Gap | None:
    """The first missing run of segments between ``base``'s start and the point (an LSN,
    or a time: up to the first segment archived after it, else the newest archived)."""
    return await asyncio.to_thread(_first_gap, history, base, lsn, time)


def _first_gap(
    history: Path, base: Base, lsn: int | None, time: datetime | None
) -> wal_gaps.Gap | None:
    start = wal.segment_index(base.start())
    archive = history / "wal"
    names = _names(archive)
    copied = _names(base.path / "pg_wal")  # a replay reads the base's own WAL too
    timeline = wal_gaps.latest_timeline(names)
    spans = wal_gaps.timeline_spans(timeline, _read(archive / f"{timeline:08X}.history"))
    usable = sorted(set(wal_gaps.usable_numbers(names, spans)))
    newest = usable[-1] if usable else start
    if lsn is not None:
        end = min(wal_gaps.segment_of(lsn), newest)  # beyond: archived before the replay
    else:
        after = _first_archived_after(archive, names, spans, time)
        end = newest if after is None else after
    return wal_gaps.first_gap(names + copied, start, end, spans)


def _names(directory: Path) -> list[str]:
    try:
        return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
    except OSError:
        return []


def _first_archived_after(
    archive: Path,
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
            archived_at = (archive / name).stat().st_mtime
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
