"""The last lines of a (possibly large) log file, read from the end."""

from __future__ import annotations

import os
from pathlib import Path

_BLOCK = 64 * 1024


def tail(path: Path, lines: int) -> list[str]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= lines:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    text = data.decode(errors="replace").splitlines()
    return text[-lines:] if lines else []
