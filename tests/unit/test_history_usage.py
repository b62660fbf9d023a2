"""History sizes: each branch's own bytes, and hard-linked files billed once per project."""

from __future__ import annotations

import os
from pathlib import Path

from lampion.storage.history_usage import HistorySize, measure


async def test_a_shared_file_is_billed_to_the_oldest_branch_only(tmp_path: Path) -> None:
    parent, child = tmp_path / "br-parent", tmp_path / "br-child"
    (parent / "wal").mkdir(parents=True)
    (child / "wal").mkdir(parents=True)
    (parent / "wal" / "000000010000000000000001").write_bytes(b"x" * 100)
    os.link(parent / "wal" / "000000010000000000000001", child / "wal" / "000000010000000000000001")
    (child / "wal" / "000000020000000000000001").write_bytes(b"y" * 10)

    sizes = await measure({"br-parent": parent, "br-child": child, "br-gone": tmp_path / "no"})
    assert sizes == {
        "br-parent": HistorySize(own=100, billed=100),
        "br-child": HistorySize(own=110, billed=10),
        "br-gone": HistorySize(own=0, billed=0),
    }
