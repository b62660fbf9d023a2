"""A real `lampion serve` process, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.apps import free_port, port_block

LAMPION = [sys.executable, "-m", "lampion"]


def lampion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the `lampion` command as a user would, for its exit code and output."""
    return subprocess.run(
        [*LAMPION, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def new_key(env: dict[str, str], org: str, *options: str) -> str:
    """An API key from `lampion keys create`, as the README has an operator make one."""
    created = lampion(env, "keys", "create", "--org", org, *options)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


def environment(data_dir: Path, templates_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a `lampion serve` with its own data dir, compute ports, API and
    proxy ports; ``settings`` are further ``LAMPION_*`` variables (without the prefix)."""
    start, end = port_block()
    return {
        **os.environ,
        "LAMPION_DATA_DIR": str(data_dir),
        "LAMPION_TEMPLATES_DIR": str(templates_dir),
        "LAMPION_PORT_RANGE_START": str(start),
        "LAMPION_PORT_RANGE_END": str(end),
        "LAMPION_API_PORT": str(free_port()),
        "LAMPION_PROXY_PORT": str(free_port()),
        **{f"LAMPION_{name.upper()}": value for name, value in settings.items()},
    }


@pytest.fixture
def server_env(workdir: Path, templates_dir: Path) -> dict[str, str]:
    return environment(workdir / "e2e", templates_dir)


@contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``lampion serve`` with ``env``, once its /readyz answers; terminated on leaving."""
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [*LAMPION, "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{env['LAMPION_API_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def server(server_env: dict[str, str], workdir: Path) -> Iterator[tuple[str, Path]]:
    log_path = workdir / "e2e-server.log"
    log_path.write_bytes(b"")  # this test's server only
    with serving(server_env, log_path):
        yield f"http://127.0.0.1:{server_env['LAMPION_API_PORT']}", log_path
