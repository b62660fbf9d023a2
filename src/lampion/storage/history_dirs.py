"""Which branch histories are on disk: ``DATA_DIR/history/<name>``, a name being a branch
id or ``<branch>.old`` (a history a restore set aside; see :func:`base.owner_of`)."""

from __future__ import annotations

import asyncio
from pathlib import Path


async def names(root: Path) -> set[str]:
    return await asyncio.to_thread(_names, root)


def _names(root: Path) -> set[str]:
    try:
        return {entry.name for entry in root.iterdir() if entry.is_dir()}
    except FileNotFoundError:
        return set()
