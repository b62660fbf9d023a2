"""Where a compute's files live on the host, whichever backend runs it: its log, the
private unix socket directory the control plane reaches it through, and the history
directory its WAL is archived into."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from lampion.compute.base import AdminTarget, ComputeSpec
from lampion.compute.osuser import OsUser
from lampion.compute.sizing import postgres_settings

_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; ".s.PGSQL.NNNNN" is appended
ARCHIVE_TIMEOUT_SECONDS = 60
"""The archive lags a busy-then-idle compute by at most this long."""
QUERY_STATISTICS = "pg_stat_statements"


def history_dir(data_dir: Path) -> Path:
    """A branch's history (archived WAL, bases): ``DATA_DIR/history/<branch>``, next to
    its data dir ``DATA_DIR/branches/<branch>``."""
    return data_dir.parent.parent / "history" / data_dir.name


def wal_archive_dir(data_dir: Path) -> Path:
    return history_dir(data_dir) / "wal"


def ensure_archive_dir(data_dir: Path, user: OsUser) -> None:
    """The history dir and the archive dir the compute's ``archive_command`` writes into
    (a branch made before history existed gets them at its next start)."""
    root = history_dir(data_dir)
    root.parent.mkdir(parents=True, exist_ok=True)
    root.parent.chmod(0o711)
    user.make_private_dir(root)
    user.make_private_dir(wal_archive_dir(data_dir))


def archive_command(wal_dir: Path) -> str:
    """Copies ``%p`` into ``wal_dir`` as ``%f``: never over an existing file (the same
    content again succeeds, different content fails), through a temporary name, fsynced,
    renamed atomically, the directory fsynced too. Plain POSIX sh and coreutils, so it runs
    in a container as well."""
    d = _sh_quote(str(wal_dir))
    return (
        f'd={d}; if [ -f "$d/%f" ]; then cmp -s "%p" "$d/%f"; '
        f'else cp "%p" "$d/.%f.tmp" && sync "$d/.%f.tmp" && mv "$d/.%f.tmp" "$d/%f" '
        f'&& sync "$d"; fi'
    )


def restore_command(wal_dir: Path) -> str:
    return f'cp {_sh_quote(str(wal_dir))}/"%f" "%p"'


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


class ComputeLayout:
    def __init__(self, computes_dir: Path):
        self.root = computes_dir
        self.root.mkdir(parents=True, exist_ok=True)

    def compute_dir(self, endpoint_id: str) -> Path:
        return self.root / endpoint_id

    def log_path(self, endpoint_id: str) -> Path:
        return self.compute_dir(endpoint_id) / "postgres.log"

    def socket_dir(self, endpoint_id: str) -> Path:
        preferred = self.compute_dir(endpoint_id) / "run"
        if len(str(preferred)) + 20 <= _SOCKET_PATH_MAX:
            return preferred
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"lampion-{digest}" / endpoint_id

    def admin_target(self, spec: ComputeSpec) -> AdminTarget:
        return AdminTarget(host=str(self.socket_dir(spec.endpoint_id)), port=spec.port)

    def prepare(self, spec: ComputeSpec, user: OsUser) -> None:
        """The socket directory (private to the computes' user), the log file and the
        archive dir."""
        endpoint_id = spec.endpoint_id
        ensure_archive_dir(spec.data_dir, user)
        socket_dir = self.socket_dir(endpoint_id)
        if not socket_dir.parent.exists():
            socket_dir.parent.mkdir(parents=True, mode=0o711)
        user.make_private_dir(socket_dir)
        self.compute_dir(endpoint_id).mkdir(parents=True, exist_ok=True)
        log_file = self.log_path(endpoint_id)
        log_file.touch(mode=0o640)
        user.chown(log_file)  # a containerized postgres opens it itself

    def remove(self, endpoint_id: str) -> None:
        shutil.rmtree(self.compute_dir(endpoint_id), ignore_errors=True)
        shutil.rmtree(self.socket_dir(endpoint_id), ignore_errors=True)

    def server_args(self, spec: ComputeSpec, listen_addresses: str) -> list[str]:
        """``postgres`` options for a compute (after the binary's name)."""
        settings = {
            "listen_addresses": listen_addresses,
            "unix_socket_directories": str(self.socket_dir(spec.endpoint_id)),
            "unix_socket_permissions": "0700",
            "cluster_name": spec.endpoint_id,
            "archive_mode": "on",
            "archive_timeout": str(ARCHIVE_TIMEOUT_SECONDS),
            "archive_command": archive_command(wal_archive_dir(spec.data_dir)),
            **postgres_settings(spec.compute_units),
        }
        if spec.install.has_library(QUERY_STATISTICS):
            # query statistics for whoever runs CREATE EXTENSION pg_stat_statements
            settings["shared_preload_libraries"] = QUERY_STATISTICS
        args = ["-D", str(spec.data_dir), "-p", str(spec.port)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        return args


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except (FileNotFoundError, PermissionError, UnicodeDecodeError):
        return []


def postmaster_ready(pid_file_lines: list[str]) -> bool:
    """``postmaster.pid`` says the server accepts connections (its 8th line)."""
    return len(pid_file_lines) >= 8 and pid_file_lines[7].strip() == "ready"
