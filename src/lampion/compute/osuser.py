"""The unprivileged OS user computes run as (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PgUserError(RuntimeError):
    pass


@dataclass(frozen=True)
class OsUser:
    name: str
    uid: int
    gid: int

    @property
    def is_current(self) -> bool:
        return self.uid == os.geteuid()

    def popen_kwargs(self) -> dict[str, Any]:
        """Arguments to subprocess functions that run a child as this user."""
        if self.is_current:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if not self.is_current:
            os.chown(path, self.uid, self.gid)

    def make_private_dir(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        self.chown(path)
        return path


def resolve(configured: str | None) -> OsUser:
    if configured:
        try:
            entry = pwd.getpwnam(configured)
        except KeyError as exc:
            raise PgUserError(f"LAMPION_PG_USER={configured!r} is not an OS user") from exc
    elif os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
    else:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PgUserError(
                "Running as root, and PostgreSQL refuses to run as root: create an OS user "
                "named 'postgres' or set LAMPION_PG_USER to an unprivileged user."
            ) from exc
    if entry.pw_uid == 0:
        raise PgUserError("LAMPION_PG_USER must not be root: PostgreSQL refuses to run as root")
    return OsUser(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid)
