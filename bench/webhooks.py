"""Webhook delivery throughput to healthy loopback receivers.

Target (issue 14): >= 50 events/s to one webhook, >= 200 deliveries/s across 10 webhooks,
and a 1,000-event backlog (written while delivery was off, then the control plane restarted
with it on) drained at a rate in proportion. Events are written straight into the outbox with
``services.events.emit``, one per transaction while delivering (``live``), or 100 per
transaction before (``backlog``); the receiver, a separate process (uvicorn), answers 204 at
once and checks each webhook's events arrive in order. Each scenario runs on a SQLite and a
PostgreSQL metadata store (a throwaway server from the machine's installation, as the tests
start one) and stops after ``--max-seconds``, so the code before the change (one delivery per
webhook per second) is measured too: ``--before SRC`` runs the same scenarios on another
checkout's ``src`` (e.g. ``git archive <commit> src | tar -x -C /tmp/before``) and prints
both side by side. Run: `.venv/bin/python -m bench.webhooks [--events 1000]
[--stores sqlite,postgresql] [--before /tmp/before/src]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.support.metadata_pg import MetadataServer

from bench.common import _free_port
from lampion import ids
from lampion.app import create_app
from lampion.config import Settings
from lampion.event_types import EventType
from lampion.runtime import Runtime
from lampion.services import events, orgs
from lampion.store.models import Webhook
from lampion.store.types import utcnow
from lampion.webhooks import signing

TARGETS = {"1 webhook": 50.0, "10 webhooks": 200.0}
BACKLOG_BATCH = 100


# --- the receiver: its own process, so that it does not share the control plane's CPU time


def _serve_receiver(port: int) -> None:
    import uvicorn

    counts: dict[str, int] = {}
    last_seq: dict[str, int] = {}
    out_of_order: dict[str, int] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if scope["method"] == "GET":
            stats = {"counts": counts, "out_of_order": out_of_order}
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": json.dumps(stats).encode()})
            return
        seq = json.loads(body)["data"]["seq"]
        if seq <= last_seq.get(path, -1):
            out_of_order[path] = out_of_order.get(path, 0) + 1
        last_seq[path] = seq
        counts[path] = counts.get(path, 0) + 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


@contextlib.contextmanager
def receiver() -> Any:
    port = _free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_receiver, args=(port,), daemon=True
    )
    process.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join()


# --- the control plane


@dataclass
class Result:
    store: str
    scenario: str
    webhooks: int
    deliveries: int
    expected: int
    seconds: float
    out_of_order: int

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


def settings_for(root: Path, database_url: str, delivering: bool) -> Settings:
    delivery: dict[str, Any] = {} if delivering else {"webhook_interval": 0}  # default: on
    return Settings(
        data_dir=root / "data",
        database_url=database_url,
        proxy_enabled=False,
        rate_limit_enabled=False,
        reconcile_on_start=False,
        reconcile_interval=0,
        autosuspend_interval=0,
        metrics_interval=0,
        webhook_allow_private=True,
        log_level=os.environ.get("LAMPION_LOG_LEVEL", "WARNING"),
        **delivery,
    )


@contextlib.asynccontextmanager
async def control_plane(settings: Settings) -> AsyncIterator[Runtime]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app.state.runtime


async def add_webhooks(runtime: Runtime, org_name: str, urls: list[str]) -> str:
    async with runtime.sessions() as session, session.begin():
        org = await orgs.get_or_create(session, org_name, "pro")
        for url in urls:
            session.add(
                Webhook(
                    id=ids.webhook_id(),
                    org_id=org.id,
                    url=url,
                    events=["*"],
                    secret_enc=runtime.secrets.encrypt(signing.new_secret()),
                    enabled=True,
                    created_at=utcnow(),
                )
            )
        return org.id


async def emit(runtime: Runtime, org_id: str, first: int, count: int) -> None:
    async with runtime.sessions() as session, session.begin():
        for seq in range(first, first + count):
            events.emit(session, org_id, EventType.WEBHOOK_TEST, {"seq": seq})


async def wait_for(
    receiver_url: str, paths: list[str], expected: int, started: float, max_seconds: float
) -> tuple[int, float, int]:
    """(deliveries received, seconds since ``started``, out of order) when all have arrived or
    the time is up."""
    async with httpx.AsyncClient(base_url=receiver_url) as client:
        while True:
            stats = (await client.get("/stats")).json()
            now = time.perf_counter()
            received = sum(stats["counts"].get(p, 0) for p in paths)
            disorder = sum(stats["out_of_order"].get(p, 0) for p in paths)
            if received >= expected or now - started >= max_seconds:
                return received, now - started, disorder
            await asyncio.sleep(0.02)


async def live(
    store: str, database_url: str, root: Path, receiver_url: str, webhooks: int, n: int, cap: float
) -> Result:
    """Events written one per transaction while the worker delivers them."""
    paths = [f"/{store}/live-{webhooks}/{i}" for i in range(webhooks)]
    async with control_plane(settings_for(root, database_url, delivering=True)) as runtime:
        org_id = await add_webhooks(
            runtime, f"bench-live-{webhooks}", [receiver_url + p for p in paths]
        )
        started = time.perf_counter()

        async def writer() -> None:
            for seq in range(n):
                await emit(runtime, org_id, seq, 1)
            print(f"    written in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        writing = asyncio.create_task(writer())
        received, seconds, disorder = await wait_for(
            receiver_url, paths, n * webhooks, started, cap
        )
        writing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writing
    scenario = f"{webhooks} webhook{'s' if webhooks > 1 else ''}, written live"
    return Result(store, scenario, webhooks, received, n * webhooks, seconds, disorder)


async def backlog(
    store: str, database_url: str, root: Path, receiver_url: str, webhooks: int, n: int, cap: float
) -> Result:
    """Events written while delivery was off, then drained after a restart."""
    paths = [f"/{store}/backlog-{webhooks}/{i}" for i in range(webhooks)]
    async with control_plane(settings_for(root, database_url, delivering=False)) as runtime:
        org_id = await add_webhooks(
            runtime, f"bench-backlog-{webhooks}", [receiver_url + p for p in paths]
        )
        for first in range(0, n, BACKLOG_BATCH):
            await emit(runtime, org_id, first, min(BACKLOG_BATCH, n - first))
    async with control_plane(settings_for(root, database_url, delivering=True)):
        started = time.perf_counter()
        received, seconds, disorder = await wait_for(
            receiver_url, paths, n * webhooks, started, cap
        )
    scenario = f"{webhooks} webhook{'s' if webhooks > 1 else ''}, {n}-event backlog"
    return Result(store, scenario, webhooks, received, n * webhooks, seconds, disorder)


Scenario = Callable[[str, str, Path, str, int, int, float], Awaitable[Result]]


async def measure(stores: list[str], n: int, cap: float) -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix="lampion-bench-webhooks-", dir="/tmp"))
    root.chmod(0o755)
    metadata_pg = MetadataServer(root / "metadata-pg", root / "templates", _free_port())
    plan: list[tuple[Scenario, int, int]] = [
        (live, 1, n),
        (live, 10, n // 2),
        (backlog, 1, n),
        (backlog, 10, n),
    ]
    results = []
    try:
        with receiver() as receiver_url:
            for store in stores:
                for number, (scenario, webhooks, events_written) in enumerate(plan):
                    if store == "sqlite":
                        url = f"sqlite+aiosqlite:///{root / f'store-{number}.db'}"
                    else:
                        url = await metadata_pg.create_database(f"bench_webhooks_{number}")
                    workdir = root / f"{store}-{number}"
                    results.append(
                        await scenario(
                            store, url, workdir, receiver_url, webhooks, events_written, cap
                        )
                    )
                    print(describe(results[-1]), file=sys.stderr, flush=True)
    finally:
        await metadata_pg.close()
        shutil.rmtree(root, ignore_errors=True)
    return results


def describe(result: Result) -> str:
    done = "" if result.deliveries >= result.expected else " (time up)"
    return (
        f"  {result.store:<10} {result.scenario:<32} {result.deliveries:>6}/{result.expected} "
        f"in {result.seconds:5.1f} s{done}: {result.rate:6.1f}/s, "
        f"{result.out_of_order} out of order"
    )


def table(after: list[Result], before: list[Result] | None) -> str:
    earlier = {(r.store, r.scenario): r for r in before or []}
    lines = [
        f"{'store':<10} {'scenario':<32} {'before /s':>10} {'after /s':>9} {'target':>8}  order",
    ]
    for result in after:
        old = earlier.get((result.store, result.scenario))
        target = TARGETS["1 webhook" if result.webhooks == 1 else "10 webhooks"]
        verdict = "ok" if result.rate >= target else "UNDER"
        lines.append(
            f"{result.store:<10} {result.scenario:<32} "
            f"{f'{old.rate:.1f}' if old else '—':>10} {result.rate:>9.1f} "
            f"{f'>= {target:.0f}':>8}  {verdict}, "
            f"{'in order' if result.out_of_order == 0 else f'{result.out_of_order} out of order'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--before", help="another checkout's src directory, measured first")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    before = None
    if args.before:
        print(f"before ({args.before}):", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "bench.webhooks", "--json"]
        command += ["--events", str(args.events), "--stores", args.stores]
        command += ["--max-seconds", str(args.max_seconds)]
        environment = {**os.environ, "PYTHONPATH": args.before, "PYTHONDONTWRITEBYTECODE": "1"}
        output = subprocess.run(command, env=environment, check=True, stdout=subprocess.PIPE)
        before = [Result(**r) for r in json.loads(output.stdout)]
        print("after:", file=sys.stderr, flush=True)
    after = asyncio.run(measure(stores, args.events, args.max_seconds))
    if args.json:
        print(json.dumps([asdict(r) for r in after]))
    else:
        print(table(after, before))


if __name__ == "__main__":
    main()
