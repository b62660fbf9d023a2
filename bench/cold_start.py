"""Connect to a suspended compute through the proxy -> first query answered.

Target (issue 4): p50 < 500 ms. Run: `.venv/bin/python -m bench.cold_start [--runs 20]`.
"""

from __future__ import annotations

import argparse
import time

import asyncpg
import httpx
import uvloop

from bench.common import bench_server, summary


async def run(runs: int) -> None:
    async with (
        bench_server() as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=120
        ) as client,
    ):
        project = (await client.post("/v1/projects", json={"name": "cold"})).json()
        dsn = project["connection_string"]
        endpoint = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
        connection = await asyncpg.connect(dsn)
        await connection.execute("CREATE TABLE t AS SELECT 1 AS x")
        await connection.close()
        cold: list[float] = []
        warm: list[float] = []
        for _ in range(runs):
            (await client.post(f"{endpoint}/suspend")).raise_for_status()
            for samples in (cold, warm):
                started = time.perf_counter()
                connection = await asyncpg.connect(dsn)
                await connection.fetchval("SELECT x FROM t")
                samples.append(time.perf_counter() - started)
                await connection.close()
        print(summary("suspended -> first query (wake-on-connect, TLS)", cold))
        print(summary("running   -> first query (through the proxy, TLS)", warm))
        await client.delete(f"/v1/projects/{project['id']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    uvloop.run(run(parser.parse_args().runs))


if __name__ == "__main__":
    main()
