"""A page of a long list: GET /v1/projects and GET /v1/projects/{id}/branches, limit=100.

Target (issue 13): with 10,000 projects in one org and 1,000 branches in one project, a page
answers p50 <= 30 ms on a SQLite and on a PostgreSQL metadata store, and the time does not
grow with the total (measured again at 1,000 projects and 100 branches). Rows are written
straight into the store (no computes); requests go through the ASGI app with the real
middleware, auth and store, except the rate limiter, which would throttle the back-to-back
requests. The PostgreSQL store is a throwaway server from the machine's installation, as the
tests start one. Run: `.venv/bin/python -m bench.listing [--runs 50] [--stores sqlite,postgresql]
[--sizes 1000,10000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert
from tests.support.metadata_pg import MetadataServer

from bench.common import _free_port, percentile
from lampion import ids
from lampion.app import create_app
from lampion.config import Settings
from lampion.runtime import Runtime
from lampion.services import api_keys, orgs
from lampion.store.models import Branch, Project

PAGE = 100
TARGET_MS = 30.0
START = datetime(2026, 1, 1, tzinfo=UTC)


async def fill(runtime: Runtime, projects: int, branches: int) -> tuple[str, str]:
    """An org with ``projects`` projects, the first with ``branches`` branches; returns an
    admin key and the first project's id."""
    async with runtime.sessions() as session, session.begin():
        org = await orgs.get_or_create(session, "bench-listing", "pro")
        _, key = await api_keys.create_in(session, org.id, "bench", "admin")
        project_ids = [ids.project_id() for _ in range(projects)]
        await session.execute(
            insert(Project),
            [
                {
                    "id": project_id,
                    "org_id": org.id,
                    "name": f"project-{i:05}",
                    "region": ("fr-par-1", "nl-ams-1")[i % 2],
                    "pg_version": 16,
                    "state": "active",
                    "created_at": START + timedelta(milliseconds=i),
                }
                for i, project_id in enumerate(project_ids)
            ],
        )
        await session.execute(
            insert(Branch),
            [
                {
                    "id": ids.branch_id(),
                    "project_id": project_ids[0],
                    "name": "main" if i == 0 else f"branch-{i:04}",
                    "is_primary": i == 0,
                    "state": "ready",
                    "created_at": START + timedelta(milliseconds=i),
                }
                for i in range(branches)
            ],
        )
    return key, project_ids[0]


async def timed(client: httpx.AsyncClient, url: str, runs: int) -> list[float]:
    for _ in range(3):
        (await client.get(url)).raise_for_status()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(url)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        assert len(response.json()) == PAGE, url
    return samples


def line(label: str, samples: list[float], targeted: bool = True) -> str:
    p50, p95 = percentile(samples, 50) * 1000, percentile(samples, 95) * 1000
    verdict = "ok" if p50 <= TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
    return (
        f"  {label:<44} p50 {p50:5.1f} ms  p95 {p95:5.1f} ms"
        f"  ({verdict if targeted else 'no target: sorts every row of the org'})"
    )


@contextlib.asynccontextmanager
async def app_on(database_url: str, root: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    settings = Settings(
        data_dir=root / "data",
        database_url=database_url,
        proxy_enabled=False,
        rate_limit_enabled=False,
        reconcile_on_start=False,
        reconcile_interval=0,
        autosuspend_interval=0,
        metrics_interval=0,
        webhook_interval=0,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
        ) as client,
    ):
        yield client, app.state.runtime


async def measure(store: str, database_url: str, root: Path, projects: int, runs: int) -> None:
    branches = projects // 10
    async with app_on(database_url, root) as (client, runtime):
        started = time.perf_counter()
        key, project_id = await fill(runtime, projects, branches)
        inserted = time.perf_counter() - started
        client.headers["Authorization"] = f"Bearer {key}"
        print(
            f"{store} store, {projects} projects in one org, {branches} branches in one "
            f"project (rows written in {inserted:.1f} s), n={runs}:"
        )
        last = -(-projects // PAGE)
        for name, page in (("first", 1), ("middle", last // 2), ("last", last)):
            url = f"/v1/projects?limit={PAGE}&page={page}"
            print(line(f"GET {url}", await timed(client, url, runs)) + f"  [{name}]")
        branches_url = f"/v1/projects/{project_id}/branches?limit={PAGE}"
        label = f"GET …/branches?limit={PAGE} (of {branches})"
        print(line(label, await timed(client, branches_url, runs)))
        sorted_url = f"/v1/projects?limit={PAGE}&page={last // 2}&sort=name&order=desc"
        label = "GET /v1/projects?…&sort=name&order=desc"
        print(line(label, await timed(client, sorted_url, runs), targeted=False))


async def run(stores: list[str], sizes: list[int], runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="lampion-bench-listing-", dir="/tmp"))
    root.chmod(0o755)
    metadata_pg = MetadataServer(root / "metadata-pg", root / "templates", _free_port())
    try:
        for store in stores:
            for size in sizes:
                workdir = root / f"{store}-{size}"
                if store == "sqlite":
                    url = f"sqlite+aiosqlite:///{root / f'store-{size}.db'}"
                else:
                    url = await metadata_pg.create_database(f"bench_listing_{size}")
                await measure(store, url, workdir, size, runs)
    finally:
        await metadata_pg.close()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="1000,10000", help="projects in the org")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    asyncio.run(run(stores, sizes, args.runs))


if __name__ == "__main__":
    main()
