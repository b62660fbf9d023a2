"""Creates 20 projects through the HTTP API and prints p50/p95 creation time.

Target (issue 2): p50 < 1 s on a 2-core machine. Run: `.venv/bin/python -m bench.create_projects`.
The first create of a PostgreSQL version builds its template (initdb) and is reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from bench.common import bench_server, summary


async def run(count: int) -> None:
    async with (
        bench_server() as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=120
        ) as client,
    ):
        started = time.perf_counter()
        warmup = await client.post("/v1/projects", json={"name": "warmup"})
        warmup.raise_for_status()
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"first create (builds the template): {elapsed_ms:.0f} ms")
        samples: list[float] = []
        ids = [warmup.json()["id"]]
        for i in range(count):
            started = time.perf_counter()
            response = await client.post("/v1/projects", json={"name": f"bench-{i}"})
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
            ids.append(response.json()["id"])
        print(summary(f"create project (pg {warmup.json()['pg_version']})", samples))
        deletes: list[float] = []
        for project_id in ids:
            started = time.perf_counter()
            (await client.delete(f"/v1/projects/{project_id}")).raise_for_status()
            deletes.append(time.perf_counter() - started)
        print(summary("delete project", deletes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20)
    asyncio.run(run(parser.parse_args().count))


if __name__ == "__main__":
    main()
