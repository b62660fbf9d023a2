"""kill -9 of `lampion serve` in the middle of a restore: after a restart on the same data
dir and a reconciler pass, the branch is ready with its old data or its new data (never
neither), no swap leftover stays on disk, and its connection string works."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import new_key, serving
from tests.support.pg import psql

pytestmark = [pytest.mark.e2e, pytest.mark.compute]

SWAP_SUFFIXES = (".new", ".old")


def _leftovers(data_dir: Path) -> list[str]:
    return [
        f"{area}/{entry.name}"
        for area in ("branches", "history")
        if (data_dir / area).is_dir()
        for entry in (data_dir / area).iterdir()
        if entry.name.endswith(SWAP_SUFFIXES)
    ]


def _restore_in_background(url: str, headers: dict[str, str], body: dict[str, str]) -> None:
    def post() -> None:
        with contextlib.suppress(httpx.TransportError):  # the server is killed under it
            httpx.post(url, headers=headers, json=body, timeout=120)

    threading.Thread(target=post, daemon=True).start()


def _wait_for(
    condition: Callable[[], bool], seconds: float, what: str, every: float = 0.005
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def test_kill_9_during_a_restore_leaves_the_old_or_the_new_data(
    server_env: dict[str, str], workdir: Path
) -> None:
    env = {**server_env, "LAMPION_RECONCILE_INTERVAL": "0.5", "LAMPION_RATE_LIMIT_ENABLED": "false"}
    data_dir = Path(env["LAMPION_DATA_DIR"])
    log_path = workdir / "e2e-restore-crash.log"
    base = f"http://127.0.0.1:{env['LAMPION_API_PORT']}"
    headers = {"Authorization": f"Bearer {new_key(env, 'crash')}"}

    with serving(env, log_path) as process:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            project = client.post("/v1/projects", json={"name": "crash"}).json()
            filled = psql(
                project["connection_string"],
                "CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 30) AS pad "
                "FROM generate_series(1, 20000) g; CREATE TABLE mark AS SELECT 'new' AS v",
            )
            assert filled.returncode == 0, filled.stderr
            branches = f"/v1/projects/{project['id']}/branches"
            ci = client.post(branches, json={"name": "ci"}).json()
            assert psql(ci["connection_string"], "UPDATE mark SET v = 'old'").returncode == 0
        restore = (f"{base}{branches}/{ci['id']}/restore", headers, {"source_branch_id": "main"})
        # Killed while the new data is being copied, then once it has been swapped in (the
        # old data aside, the compute starting on the new).
        _kill_when_there(process, data_dir / "branches" / f"{ci['id']}.new", restore)

    with serving(env, log_path) as process:
        assert _settled_mark(base, headers, f"{branches}/{ci['id']}", data_dir, ci) == "old"
        _kill_when_there(process, data_dir / "branches" / f"{ci['id']}.old", restore)

    with serving(env, log_path):
        assert _settled_mark(base, headers, f"{branches}/{ci['id']}", data_dir, ci) in (
            "old",
            "new",
        )
        httpx.delete(f"{base}/v1/projects/{project['id']}", headers=headers, timeout=60)


def _kill_when_there(
    process: subprocess.Popen[bytes],
    path: Path,
    restore: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    _restore_in_background(*restore)
    _wait_for(path.exists, 60, f"{path.name} to appear")
    process.kill()
    process.wait(timeout=10)


def _settled_mark(
    base: str, headers: dict[str, str], branch_url: str, data_dir: Path, ci: dict[str, str]
) -> str:
    """Once the reconciler has settled the swap: the branch's mark row, read through its
    unchanged connection string."""
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:

        def settled() -> bool:
            response = client.get(branch_url)
            assert response.status_code == 200, response.text
            return response.json()["state"] == "ready" and not _leftovers(data_dir)

        _wait_for(settled, 30, "the branch ready without .new/.old leftovers", every=0.2)
    mark = psql(ci["connection_string"], "SELECT v FROM mark")
    assert mark.returncode == 0, mark.stderr
    return mark.stdout.strip()
