"""Creating a branch, from the API call to the first query answered on it.

Target (issue 3): with `reflink`, a branch of a 1 GB parent in < 1 s and within 1.5x of a
10 MB parent. Measures both drivers: `copy` on the default filesystem and `reflink` on a
loop-mounted XFS (needs root and xfsprogs; skipped with a message otherwise).
Run: `.venv/bin/python -m bench.branches [--runs 5] [--large-mb 1024]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
from tests.support.xfs import XfsUnavailable, xfs_mount

from bench.common import bench_server, percentile

ROW_BYTES = 1000


async def fill(dsn: str, megabytes: int) -> float:
    """Grows the parent to about ``megabytes`` of table data; returns the database size."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE filler (id bigint, payload text)")
        rows = megabytes * 1024 * 1024 // ROW_BYTES
        batch = 100_000
        for start in range(0, rows, batch):
            await connection.execute(
                "INSERT INTO filler SELECT g, repeat(md5(g::text), $3) "
                "FROM generate_series($1::bigint, $2::bigint) g",
                start,
                min(rows, start + batch) - 1,
                ROW_BYTES // 32,
            )
        await connection.execute("CHECKPOINT")
        size: int = await connection.fetchval("SELECT pg_database_size(current_database())")
        return size / 1024 / 1024
    finally:
        await connection.close()


async def first_query(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.fetchval("SELECT id FROM filler LIMIT 1")
    finally:
        await connection.close()


async def measure(client: httpx.AsyncClient, project_id: str, runs: int) -> list[float]:
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        response = await client.post(
            f"/v1/projects/{project_id}/branches", json={"name": f"bench-{i}"}
        )
        response.raise_for_status()
        await first_query(response.json()["connection_string"])
        samples.append(time.perf_counter() - started)
        await client.delete(f"/v1/projects/{project_id}/branches/{response.json()['id']}")
    return samples


async def bench_driver(label: str, parent: Path | None, sizes: list[int], runs: int) -> None:
    async with (
        bench_server(parent) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=600
        ) as client,
    ):
        p50s = {}
        for megabytes in sizes:
            project = (await client.post("/v1/projects", json={"name": f"p{megabytes}"})).json()
            actual = await fill(project["connection_string"], megabytes)
            samples = await measure(client, project["id"], runs)
            p50s[megabytes] = percentile(samples, 50)
            print(
                f"{label:8} driver={server.runtime.storage.name:7} parent={actual:7.0f} MB  "
                f"create-branch->first-query p50={p50s[megabytes] * 1000:6.0f} ms "
                f"p95={percentile(samples, 95) * 1000:6.0f} ms  (n={runs})",
                flush=True,
            )
            await client.delete(f"/v1/projects/{project['id']}")
        small, large = min(sizes), max(sizes)
        print(f"{label:8} large/small ratio: {p50s[large] / p50s[small]:.2f}x", flush=True)


@contextlib.contextmanager
def xfs_dir() -> Iterator[Path | None]:
    scratch = Path(tempfile.mkdtemp(prefix="lampion-bench-xfs-", dir="/tmp"))
    scratch.chmod(0o755)
    try:
        with xfs_mount(scratch, size="8G") as mount:
            yield mount
    except XfsUnavailable as exc:
        print(f"reflink: skipped ({exc})")
        yield None


async def run(runs: int, large_mb: int) -> None:
    sizes = [10, large_mb]
    await bench_driver("copy", None, sizes, runs)
    with xfs_dir() as mount:
        if mount is not None:
            await bench_driver("reflink", mount, sizes, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large-mb", type=int, default=1024)
    args = parser.parse_args()
    asyncio.run(run(args.runs, args.large_mb))


if __name__ == "__main__":
    main()
