"""The archive command never overwrites: the same content again succeeds, other content
fails; a new file arrives whole under its name, through a temporary one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lampion.compute.layout import archive_command, restore_command


def _run(command: str, cwd: Path, path: str, name: str) -> int:
    line = command.replace("%p", path).replace("%f", name)
    return subprocess.run(["sh", "-c", line], cwd=cwd, check=False).returncode


def test_archives_once_and_never_overwrites_different_content(tmp_path: Path) -> None:
    data, archive = tmp_path / "data", tmp_path / "it's archive"
    (data / "pg_wal").mkdir(parents=True)
    archive.mkdir()
    segment = data / "pg_wal" / "000000010000000000000001"
    segment.write_bytes(b"first")
    command = archive_command(archive)
    name = segment.name

    assert _run(command, data, f"pg_wal/{name}", name) == 0
    assert (archive / name).read_bytes() == b"first"
    assert [p.name for p in archive.iterdir()] == [name]  # no temporary left behind

    assert _run(command, data, f"pg_wal/{name}", name) == 0  # the same again: done

    segment.write_bytes(b"other")
    assert _run(command, data, f"pg_wal/{name}", name) != 0
    assert (archive / name).read_bytes() == b"first"


def test_restore_copies_back_and_fails_on_a_missing_file(tmp_path: Path) -> None:
    archive, data = tmp_path / "archive", tmp_path / "data"
    archive.mkdir()
    (data / "pg_wal").mkdir(parents=True)
    (archive / "000000010000000000000002").write_bytes(b"wal")
    command = restore_command(archive)
    assert _run(command, data, "pg_wal/RECOVERYXLOG", "000000010000000000000002") == 0
    assert (data / "pg_wal" / "RECOVERYXLOG").read_bytes() == b"wal"
    assert _run(command, data, "pg_wal/RECOVERYXLOG", "000000010000000000000009") != 0
