"""The WAL gap check: every segment from a base's start to a point, along the timelines a
replay follows; in-progress, partial and label files never fill a gap."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

from lampion.storage import replay_check, wal_gaps
from lampion.storage.history import Base
from lampion.storage.wal_gaps import Gap, Segment


def _names(timeline: int, numbers: range) -> list[str]:
    return [Segment(timeline, n).name() for n in numbers]


def test_names_parse_back_and_count_across_the_4_gib_unit() -> None:
    assert Segment(1, 0x100).name() == "000000010000000100000000"
    assert wal_gaps.parse_segment("000000010000000100000000") == Segment(1, 0x100)
    assert wal_gaps.parse_segment("00000001000000000000000A.partial") is None
    assert wal_gaps.parse_segment("00000002.history") is None
    assert wal_gaps.history_timeline("00000002.history") == 2


def test_a_missing_run_is_named_and_noise_fills_nothing() -> None:
    names = _names(1, range(1, 10))
    names.remove(Segment(1, 4).name())
    names.remove(Segment(1, 5).name())
    names += [
        ".000000010000000000000004.tmp",
        "000000010000000000000005.partial",
        "000000010000000000000004.00000028.backup",
    ]
    spans = wal_gaps.timeline_spans(1, None)
    assert wal_gaps.first_gap(names, 2, 9, spans) == Gap(
        "000000010000000000000004", "000000010000000000000005"
    )
    assert wal_gaps.first_gap(names, 2, 3, spans) is None  # the point lies before the gap
    assert wal_gaps.first_gap(names, 6, 9, spans) is None  # the base starts after it


def test_a_replay_follows_the_timeline_history() -> None:
    # timeline 2 branched off timeline 1 inside segment 3; the parent went on on timeline 1
    history = "1\t0/3000158\tno recovery target specified\n"
    spans = wal_gaps.timeline_spans(2, history)
    assert spans == {1: (0, 3), 2: (3, None)}
    names = [*_names(1, range(1, 7)), "000000010000000000000003.partial", "00000002.history"]
    names += _names(2, range(3, 6))
    assert wal_gaps.latest_timeline(names) == 2
    assert wal_gaps.first_gap(names, 1, 5, spans) is None
    names.remove(Segment(2, 4).name())  # timeline 1's segment 4 is another lineage's
    assert wal_gaps.first_gap(names, 1, 5, spans) == Gap(
        "000000020000000000000004", "000000020000000000000004"
    )


async def test_a_history_dir_is_checked_from_its_base_to_the_point(tmp_path: Path) -> None:
    base, wal = tmp_path / "base", tmp_path / "wal"
    (base / "pg_wal").mkdir(parents=True)
    wal.mkdir()
    (base / "backup_label").write_text(
        "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nCHECKPOINT LOCATION: …\n"
    )
    (base / "pg_wal" / "000000010000000000000003").touch()  # the base's own copy serves
    for number in (4, 6, 7):
        (wal / Segment(1, number).name()).touch()
    first = Base(base, "0/3000028", datetime.now(UTC))
    assert await replay_check.first_gap(tmp_path, first, lsn=0x4000100) is None
    gap = await replay_check.first_gap(tmp_path, first, lsn=0x7000100)
    assert gap == Gap("000000010000000000000005", "000000010000000000000005")
    newest = await replay_check.first_gap(tmp_path, first, time=datetime.now(UTC))
    assert newest == gap  # a time: up to the newest segment

    (base / "backup_label").unlink()  # a stopped copy: pg_control's redo point, segment 6
    control = bytearray(64)
    struct.pack_into("<QI", control, 40, 0x6000028, 1)
    (base / "global").mkdir()
    (base / "global" / "pg_control").write_bytes(bytes(control))
    assert await replay_check.first_gap(tmp_path, first, lsn=0x7000100) is None
