"""A history's bases on disk (no compute): which one a point recovers from, which ones a
branch made at a point links in, and what pruning keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lampion.compute.osuser import resolve
from lampion.storage import wal
from lampion.storage.history import BaseMark, History, RecoveryTarget

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _history(tmp_path: Path) -> History:
    (tmp_path / "branches").mkdir()
    return History(tmp_path / "branches", resolve(None), reflink=False)


def _snapshot(history: History, branch: str, lsn: int, minutes: int, start: int) -> None:
    path = history.snapshots_dir(branch) / f"{lsn:016X}"
    (path / "global").mkdir(parents=True)
    (path / "PG_VERSION").write_text("17")
    point = {
        "lsn": wal.lsn_text(lsn),
        "time": (T0 + timedelta(minutes=minutes)).isoformat(),
        "start": wal.position_of(start),
    }
    path.with_name(path.name + ".json").write_text(json.dumps(point))


def _segment(history: History, branch: str, lsn: int) -> str:
    name = "00000001" + wal.position_of(lsn)
    (history.wal_dir(branch) / name).write_bytes(b"x")
    return name


async def _branch_with_three_bases(history: History) -> None:
    template = history.dir("br-a").parent.parent / "template"
    (template / "global").mkdir(parents=True)
    (template / "PG_VERSION").write_text("17")
    await history.link_base("br-a", template)
    await history.write_mark("br-a", BaseMark("0/1000000", T0))
    _snapshot(history, "br-a", 0x5000028, minutes=10, start=0x5000000)
    _snapshot(history, "br-a", 0x9000028, minutes=20, start=0x9000000)
    (history.snapshots_dir("br-a") / "00000000AAAAAAAA").mkdir()  # unfinished: no point


async def test_a_point_recovers_from_the_newest_base_before_it(tmp_path: Path) -> None:
    history = _history(tmp_path)
    await _branch_with_three_bases(history)
    assert [b.lsn for b in history.bases("br-a")] == ["0/1000000", "0/5000028", "0/9000028"]
    at = history.base_for
    assert at("br-a", RecoveryTarget(time=T0 + timedelta(minutes=15))).lsn == "0/5000028"
    assert at("br-a", RecoveryTarget(lsn="0/9000028")).lsn == "0/9000028"
    assert at("br-a", RecoveryTarget(lsn="0/9000027")).lsn == "0/5000028"
    assert at("br-a", RecoveryTarget(time=T0)).first

    # A branch at minute 15 links the bases up to it, not the later one (another timeline).
    await history.share("br-a", "br-b", until=RecoveryTarget(time=T0 + timedelta(minutes=15)))
    assert [b.lsn for b in history.bases("br-b")] == ["0/1000000", "0/5000028"]


async def test_pruning_keeps_the_newest_base_before_the_window_and_its_wal(
    tmp_path: Path,
) -> None:
    history = _history(tmp_path)
    await _branch_with_three_bases(history)
    old = _segment(history, "br-a", 0x4000000)
    kept = [_segment(history, "br-a", lsn) for lsn in (0x5000000, 0x9000000)]
    (history.wal_dir("br-a") / "00000002.history").write_text("1\t0/9000000\tno reason\n")

    assert history.archived_end("br-a") == 0xA000000
    assert history.prunable("br-a", T0 + timedelta(minutes=15))
    pruned = await history.prune("br-a", T0 + timedelta(minutes=15))
    assert not history.prunable("br-a", T0 + timedelta(minutes=15))

    assert (pruned.bases, pruned.segments) == (1, 1)
    assert [b.lsn for b in history.bases("br-a")] == ["0/5000028", "0/9000028"]
    assert not history.base_dir("br-a").exists()
    names = sorted(p.name for p in history.wal_dir("br-a").iterdir())
    assert names == sorted([*kept, "00000002.history"])
    assert old not in names
    assert not (history.snapshots_dir("br-a") / "00000000AAAAAAAA").exists()
    assert sorted(p.name for p in history.dir("br-a").iterdir()) == [
        "base.json",
        "snapshots",
        "wal",
    ]
