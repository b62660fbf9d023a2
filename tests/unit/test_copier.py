"""Copies and deletes in child processes: the same result as copying in-process, and the
child's errors come back as the same exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from lampion.compute.osuser import resolve
from lampion.storage import copier


def data_dir(root: Path) -> Path:
    (root / "base" / "1").mkdir(parents=True)
    (root / "base" / "1" / "1234").write_bytes(b"x" * 100_000)
    (root / "pg_wal").mkdir()
    (root / "pg_wal" / "000000010000000000000001").write_bytes(b"w" * 1000)
    (root / "pg_wal" / "000000010000000000000002").write_bytes(b"v" * 1000)
    (root / "pg_stat_tmp").mkdir()
    (root / "pg_stat_tmp" / "global.stat").write_bytes(b"s")
    (root / "postmaster.pid").write_text("1\n")
    (root / "PG_VERSION").write_text("16\n")
    (root / "PG_VERSION").chmod(0o600)
    return root


async def test_a_tree_is_copied_as_in_process(tmp_path: Path) -> None:
    source = data_dir(tmp_path / "source")
    target = tmp_path / "target"
    await copier.copy_tree(source, target, resolve(None), reflink=False)
    assert (target / "base" / "1" / "1234").read_bytes() == b"x" * 100_000
    assert (target / "PG_VERSION").stat().st_mode & 0o777 == 0o600
    assert not (target / "postmaster.pid").exists()
    assert list((target / "pg_stat_tmp").iterdir()) == []


async def test_wal_is_copied_from_the_start_segment(tmp_path: Path) -> None:
    source = data_dir(tmp_path / "source")
    target = tmp_path / "target"
    await copier.copy_tree(source, target, resolve(None), reflink=False, skip_wal=True)
    assert list((target / "pg_wal").iterdir()) == []
    await copier.copy_wal(source, target, resolve(None), "000000010000000000000002", reflink=False)
    assert [p.name for p in (target / "pg_wal").iterdir()] == ["000000010000000000000002"]


async def test_the_childs_os_errors_come_back_as_themselves(tmp_path: Path) -> None:
    source = data_dir(tmp_path / "source")
    with pytest.raises(FileExistsError):
        await copier.copy_tree(source, source, resolve(None), reflink=False)
    with pytest.raises(FileNotFoundError):
        await copier.copy_tree(
            tmp_path / "missing", tmp_path / "x" / "y", resolve(None), reflink=False
        )


async def test_remove_tree_removes_everything_and_tolerates_absence(tmp_path: Path) -> None:
    source = data_dir(tmp_path / "source")
    await copier.remove_tree(source)
    assert not source.exists()
    await copier.remove_tree(source)
