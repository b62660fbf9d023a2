"""The child process of a copy (see ``copier.py``): ``python -m lampion.storage.copy_worker
<request as JSON>``. Imports only what copying needs, to start fast; reports a failure as one
JSON line on stderr (an OSError with its errno, so a full disk stays ENOSPC)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lampion.compute.osuser import OsUser
from lampion.storage.tree import copy_file, copy_tree


def copy_wal(
    source: Path, target: Path, owner: OsUser, start_segment: str, *, reflink: bool
) -> None:
    """The segments recovery replays: from the backup's start segment to the end."""
    for segment in sorted((source / "pg_wal").iterdir()):
        needed = segment.name >= start_segment or segment.name.endswith(".history")
        if needed and segment.is_file():
            try:
                copy_file(segment, target / "pg_wal" / segment.name, owner, reflink=reflink)
            except FileNotFoundError:
                continue  # recycled by the running postmaster meanwhile


def serve(request: dict[str, Any]) -> None:
    owner = OsUser(*request["owner"])
    source, target = Path(request["source"]), Path(request["target"])
    if request["op"] == "tree":
        copy_tree(source, target, owner, reflink=request["reflink"], skip_wal=request["skip_wal"])
    elif request["op"] == "wal":
        copy_wal(source, target, owner, request["start_segment"], reflink=request["reflink"])
    else:
        raise ValueError(f"unknown copy operation {request['op']!r}")


def main(argv: list[str]) -> int:
    try:
        serve(json.loads(argv[0]))
    except OSError as exc:
        failure = {
            "errno": exc.errno,
            "message": exc.strerror or str(exc),
            "filename": exc.filename and str(exc.filename),
        }
    except Exception as exc:
        failure = {"errno": None, "message": f"{type(exc).__name__}: {exc}"}
    else:
        return 0
    print(json.dumps(failure), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
