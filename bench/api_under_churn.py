"""Simple API requests while other clients create and delete branches.

Target (issue 14): with the `copy` driver on the default filesystem and 20 clients, the p99
of simple requests (GET a project, list its branches, GET an endpoint) when 10% of the
clients create and delete branches stays within 2x of the p99 without them, and no request
answers 5xx. Both phases run in one run against one real server (``lampion serve`` in its own
process, SQLite store, rate limiter off: it would throttle the back-to-back requests of one
key): first without churn, then with it. Each churning client branches its own project,
whose compute runs (the online-backup clone) and holds about ``--parent-mb`` of data.
Run: `.venv/bin/python -m bench.api_under_churn [--duration 60] [--clients 20] [--churn 0.1]
[--parent-mb 100]` (``LAMPION_BENCH_DURATION`` sets the default duration).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.branches import fill
from bench.common import _free_port, percentile
from lampion.config import Settings
from lampion.runtime import open_store, prepare_data_dir
from lampion.services import api_keys, orgs

TARGET_RATIO = 2.0


@dataclass
class Phase:
    name: str
    simple: list[float] = field(default_factory=list)
    creates: list[float] = field(default_factory=list)
    deletes: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500 and len(self.errors) < 5:
            self.errors.append(f"{response.request.method} {response.request.url.path}: "
                               f"{response.status_code} {response.text[:200]}")  # fmt: skip

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@dataclass
class Server:
    url: str
    key: str


@contextlib.asynccontextmanager
async def lampion_server(storage_concurrency: int | None) -> AsyncIterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="lampion-bench-churn-", dir="/tmp"))
    root.chmod(0o755)
    port = _free_port()
    first = 40000 + (os.getpid() % 200) * 100
    env = {
        **os.environ,
        "LAMPION_DATA_DIR": str(root / "data"),
        "LAMPION_API_PORT": str(port),
        "LAMPION_PROXY_PORT": str(_free_port()),
        "LAMPION_PORT_RANGE_START": str(first),
        "LAMPION_PORT_RANGE_END": str(first + 99),
        "LAMPION_STORAGE_DRIVER": "copy",
        "LAMPION_RATE_LIMIT_ENABLED": "false",
        "LAMPION_LOG_LEVEL": os.environ.get("LAMPION_LOG_LEVEL", "WARNING"),
    }
    if storage_concurrency is not None:
        env["LAMPION_STORAGE_CONCURRENCY"] = str(storage_concurrency)
    key = await _admin_key(Settings(data_dir=root / "data"))
    process = subprocess.Popen(
        [sys.executable, "-m", "lampion", "serve"], env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as probe:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"lampion serve exited with {process.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        yield Server(url, key)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # computes outlive the control plane by design: stop those the bench made
        for pid_file in (root / "data" / "branches").glob("*/postmaster.pid"):
            with contextlib.suppress(ValueError, OSError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        await asyncio.sleep(1)
        shutil.rmtree(root, ignore_errors=True)


async def _admin_key(settings: Settings) -> str:
    prepare_data_dir(settings.data_dir)
    engine, sessions = await open_store(settings)
    try:
        async with sessions() as session, session.begin():
            org = await orgs.get_or_create(session, "bench-churn", "pro")
            _, key = await api_keys.create_in(session, org.id, "bench", "admin")
        return key
    finally:
        await engine.dispose()


def client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=300
    )


async def simple_requests(
    server: Server, project: dict[str, str], phase: Phase, deadline: float
) -> None:
    paths = itertools.cycle(
        [
            f"/v1/projects/{project['id']}",
            f"/v1/projects/{project['id']}/branches",
            f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}",
        ]
    )
    async with client(server) as http:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await http.get(next(paths))
            phase.simple.append(time.perf_counter() - started)
            phase.count(response)


async def branch_churn(server: Server, project_id: str, phase: Phase, deadline: float) -> None:
    """Creates a branch, then deletes it, again and again (the last pair is finished)."""
    async with client(server) as http:
        for i in itertools.count():
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            created = await http.post(
                f"/v1/projects/{project_id}/branches", json={"name": f"churn-{phase.name}-{i}"}
            )
            phase.count(created)
            if created.status_code != 201:
                await asyncio.sleep(1)
                continue
            phase.creates.append(time.perf_counter() - started)
            started = time.perf_counter()
            branch_id = created.json()["id"]
            deleted = await http.delete(f"/v1/projects/{project_id}/branches/{branch_id}")
            phase.count(deleted)
            if deleted.is_success:
                phase.deletes.append(time.perf_counter() - started)


async def run_phase(
    server: Server,
    name: str,
    reader: dict[str, str],
    churned: list[str],
    clients: int,
    duration: float,
) -> Phase:
    phase = Phase(name)
    deadline = time.monotonic() + duration
    tasks = [branch_churn(server, project_id, phase, deadline) for project_id in churned]
    tasks += [
        simple_requests(server, reader, phase, deadline) for _ in range(clients - len(churned))
    ]
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    print(f"[{name}] done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return phase


async def make_project(http: httpx.AsyncClient, name: str, megabytes: int) -> dict[str, str]:
    response = await http.post("/v1/projects", json={"name": name})
    response.raise_for_status()
    body = response.json()
    if megabytes:
        await fill(body["connection_string"], megabytes)
    return {"id": body["id"], "endpoint_id": body["endpoint_id"]}


def ms(samples: list[float], pct: float) -> str:
    return f"{percentile(samples, pct) * 1000:7.0f} ms" if samples else "      - ms"


def report(quiet: Phase, churn: Phase, churners: int, args: argparse.Namespace) -> None:
    print(
        f"api_under_churn: {args.clients} clients, {args.duration:.0f} s per phase, "
        f"driver=copy, parent={args.parent_mb} MB, churning clients={churners}, "
        f"storage concurrency={args.storage_concurrency or 'default'}"
    )
    for phase in (quiet, churn):
        rate = len(phase.simple) / args.duration
        print(
            f"  {phase.name:9} simple requests: n={len(phase.simple):6} ({rate:5.0f}/s) "
            f"p50={ms(phase.simple, 50)} p95={ms(phase.simple, 95)} "
            f"p99={ms(phase.simple, 99)} max={ms(phase.simple, 100)}  5xx={phase.server_errors}"
        )
    if churn.creates:
        print(
            f"  branch create: n={len(churn.creates)} p50={ms(churn.creates, 50)} "
            f"p95={ms(churn.creates, 95)} max={ms(churn.creates, 100)};  "
            f"delete: n={len(churn.deletes)} p50={ms(churn.deletes, 50)} "
            f"max={ms(churn.deletes, 100)}"
        )
    ratio = percentile(churn.simple, 99) / percentile(quiet.simple, 99)
    errors = quiet.server_errors + churn.server_errors
    verdict = "OK" if ratio <= TARGET_RATIO and errors == 0 else "MISSED"
    print(
        f"  p99 churn/no-churn = {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x), "
        f"5xx = {errors} (target 0): {verdict}"
    )
    print(f"  statuses: no-churn {dict(sorted(quiet.statuses.items()))}, "
          f"churn {dict(sorted(churn.statuses.items()))}")  # fmt: skip
    for line in quiet.errors + churn.errors:
        print(f"  5xx: {line}")


async def run(args: argparse.Namespace) -> None:
    churners = max(1, round(args.clients * args.churn))
    async with lampion_server(args.storage_concurrency) as server, client(server) as http:
        reader = await make_project(http, "reader", 0)
        churned = [
            (await make_project(http, f"churned-{i}", args.parent_mb))["id"]
            for i in range(churners)
        ]
        quiet = await run_phase(server, "no-churn", reader, [], args.clients, args.duration)
        churn = await run_phase(server, "churn", reader, churned, args.clients, args.duration)
    report(quiet, churn, churners, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--duration", type=float, default=float(os.environ.get("LAMPION_BENCH_DURATION", 60))
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--churn", type=float, default=0.1, help="share of churning clients")
    parser.add_argument("--parent-mb", type=int, default=100)
    parser.add_argument(
        "--storage-concurrency", type=int, default=None, help="LAMPION_STORAGE_CONCURRENCY"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
