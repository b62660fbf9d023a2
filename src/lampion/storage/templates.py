"""One template cluster per PostgreSQL major version, made once with initdb.

Every project's root branch is a copy of its version's template: no initdb per project.
"""

from __future__ import annotations

import asyncio
import fcntl
import shutil
import subprocess
import tempfile
from pathlib import Path

import structlog

from lampion.compute import hba
from lampion.compute.installations import PgInstall
from lampion.compute.osuser import OsUser
from lampion.storage.tls import write_self_signed

log = structlog.get_logger(__name__)

SUPERUSER = "cloud_admin"
TEMPLATE_FORMAT = 1
"""Bumped when what a template holds changes, so stale templates are not reused."""

_CONF = """
# --- Lampion ---
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
log_statement = 'none'
"""

_SSL_CONF = """ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
"""


class Templates:
    def __init__(self, root: Path, user: OsUser):
        self._root = root
        self._user = user
        self._locks: dict[int, asyncio.Lock] = {}

    def path(self, install: PgInstall) -> Path:
        return self._root / f"{install.major}-v{TEMPLATE_FORMAT}"

    async def ensure(self, install: PgInstall) -> Path:
        target = self.path(install)
        if (target / "PG_VERSION").exists():
            return target
        lock = self._locks.setdefault(install.major, asyncio.Lock())
        async with lock:
            await asyncio.to_thread(self._build_locked, install, target)
        return target

    def _build_locked(self, install: PgInstall, target: Path) -> None:
        """Builds under a file lock, so several processes sharing the root build it once."""
        self._root.mkdir(parents=True, exist_ok=True)
        self._root.chmod(0o755)
        with (self._root / ".lock").open("w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            if (target / "PG_VERSION").exists():
                return
            self._build(install, target)

    def _build(self, install: PgInstall, target: Path) -> None:
        work = Path(tempfile.mkdtemp(prefix=f".build-{install.major}-", dir=self._root))
        try:
            data = self._user.make_private_dir(work / "data")
            work.chmod(0o755)
            log.info("template.initdb", pg_version=install.version, bin_dir=str(install.bin_dir))
            result = subprocess.run(
                [
                    str(install.tool("initdb")),
                    "-D",
                    str(data),
                    "--username",
                    SUPERUSER,
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C.UTF-8",
                    "--auth-local",
                    "trust",
                    "--auth-host",
                    "scram-sha-256",
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
                cwd="/",
                env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
                **self._user.popen_kwargs(),
            )
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed: {result.stderr.strip()[-2000:]}")
            with (data / "postgresql.conf").open("a") as conf:
                conf.write(_CONF)
                if install.ssl:
                    conf.write(_SSL_CONF)
            (data / "pg_hba.conf").write_text(hba.render([]))
            if install.ssl:
                write_self_signed(data / "server.crt", data / "server.key", "lampion-compute")
                self._user.chown(data / "server.crt")
                self._user.chown(data / "server.key")
            data.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
