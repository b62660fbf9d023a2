"""How many bytes branch histories take on disk.

Branches share history files through hard links (a point-in-time child links its parent's
archived WAL and base). Each branch's ``own`` bytes count every file in its directory;
``billed`` bytes count a file only for the first branch (in the order given: oldest first)
that holds it, so that a project's sum counts every file once. Sizes are apparent sizes
(``st_size``): reflinked extents are not told apart.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HistorySize:
    own: int
    billed: int


async def measure(dirs: Mapping[str, Path]) -> dict[str, HistorySize]:
    """``dirs``: one project's branch history directories by branch id, oldest first."""
    return await asyncio.to_thread(_measure, dirs)


def _measure(dirs: Mapping[str, Path]) -> dict[str, HistorySize]:
    seen: set[tuple[int, int]] = set()
    sizes: dict[str, HistorySize] = {}
    for branch_id, root in dirs.items():
        own = billed = 0
        for directory, _, files in os.walk(root):
            for name in files:
                try:
                    stat = os.lstat(os.path.join(directory, name))
                except FileNotFoundError:
                    continue  # removed while walking (a pruner, an archive rename)
                own += stat.st_size
                key = (stat.st_dev, stat.st_ino)
                if key not in seen:
                    seen.add(key)
                    billed += stat.st_size
        sizes[branch_id] = HistorySize(own=own, billed=billed)
    return sizes
