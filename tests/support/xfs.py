"""A loop-mounted XFS filesystem with reflink, so the reflink driver is tested for real."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class XfsUnavailable(Exception):
    """Why this machine cannot give the tests an XFS mount (the tests skip with it)."""


@contextmanager
def xfs_mount(workdir: Path, size: str = "4G") -> Iterator[Path]:
    if os.geteuid() != 0:
        raise XfsUnavailable("mounting a loop device needs root")
    if shutil.which("mkfs.xfs") is None:
        raise XfsUnavailable("mkfs.xfs is not installed (Debian package xfsprogs)")
    image, mount_point = workdir / "xfs.img", workdir / "xfs"
    mount_point.mkdir()
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    made = subprocess.run(
        ["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], capture_output=True, text=True
    )
    if made.returncode != 0:
        raise XfsUnavailable(f"mkfs.xfs failed: {made.stderr.strip()}")
    mounted = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        raise XfsUnavailable(f"cannot mount a loop device here: {mounted.stderr.strip()}")
    mount_point.chmod(0o755)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        image.unlink(missing_ok=True)
