"""Shared by the benchmarks: a real server on loopback in a throwaway data dir."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from tests.support.xfs import XfsUnavailable, xfs_mount

from lampion.app import create_app
from lampion.config import Settings
from lampion.runtime import Runtime
from lampion.services import api_keys, orgs


@dataclass
class BenchServer:
    url: str
    key: str
    runtime: Runtime


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(label: str, samples: list[float]) -> str:
    return (
        f"{label}: n={len(samples)} p50={percentile(samples, 50) * 1000:.0f} ms "
        f"p95={percentile(samples, 95) * 1000:.0f} ms "
        f"mean={statistics.mean(samples) * 1000:.0f} ms max={max(samples) * 1000:.0f} ms"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def wait_for_port(port: int, process: asyncio.subprocess.Process, name: str) -> None:
    """Returns once ``port`` accepts connections; raises when ``process`` exited first."""
    for _ in range(200):
        if process.returncode is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError(f"{name} does not listen on {port}")


class PgbenchFailed(RuntimeError):
    pass


async def pgbench(
    binary: Path, args: Sequence[str], password: str, sslmode: str = "disable"
) -> str:
    """Runs pgbench; its output, or PgbenchFailed carrying that output."""
    process = await asyncio.create_subprocess_exec(
        str(binary),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PGPASSWORD": password, "PGSSLMODE": sslmode},
    )
    out, _ = await process.communicate()
    text = out.decode()
    if process.returncode != 0:
        raise PgbenchFailed(text)
    return text


def pgbench_latencies(log_dir: Path) -> list[float]:
    """Per-transaction latencies (seconds) from the ``pgbench -l`` logs in ``log_dir``; the
    third field of each line is the latency in microseconds."""
    return [
        int(line.split()[2]) / 1_000_000
        for log in sorted(log_dir.iterdir())
        for line in log.read_text().splitlines()
        if line
    ]


@contextlib.asynccontextmanager
async def bench_server(
    parent: Path | None = None, **overrides: object
) -> AsyncIterator[BenchServer]:
    root = Path(tempfile.mkdtemp(prefix="lampion-bench-", dir=parent or "/tmp"))
    root.chmod(0o755)
    settings = Settings(
        data_dir=root / "data",
        api_port=_free_port(),
        log_level=os.environ.get("LAMPION_LOG_LEVEL", "WARNING"),
        **overrides,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.api_port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session, session.begin():
        org = await orgs.get_or_create(session, "bench", "pro")
        _, key = await api_keys.create_in(session, org.id, "bench", "admin")
    try:
        yield BenchServer(f"http://127.0.0.1:{settings.api_port}", key, runtime)
    finally:
        for endpoint_id in await runtime.compute.running_endpoints():  # what a bench left
            await runtime.compute.remove_orphan(endpoint_id)
        server.should_exit = True
        await task
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def xfs_dir(size: str = "8G") -> Iterator[Path | None]:
    """A loop-mounted XFS (reflink) for a ``bench_server`` root, or None (said why) where
    this machine cannot mount one."""
    scratch = Path(tempfile.mkdtemp(prefix="lampion-bench-xfs-", dir="/tmp"))
    scratch.chmod(0o755)
    try:
        with contextlib.ExitStack() as stack:
            try:
                mount: Path | None = stack.enter_context(xfs_mount(scratch, size=size))
            except XfsUnavailable as exc:
                print(f"reflink: skipped ({exc})")
                mount = None
            yield mount
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
