"""One metrics-sampler pass over N running computes, and API latency while it runs.

Target (issue 6): a pass over 100 running endpoints takes < 2 s and never blocks the API.
Run: `.venv/bin/python -m bench.sampler [--endpoints 100]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
import uvloop

from bench.common import bench_server, summary
from lampion.workers.sampler import Sampler


async def run(count: int) -> None:
    async with (
        bench_server(metrics_interval=0, autosuspend_interval=0) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=120
        ) as client,
    ):
        started = time.perf_counter()
        gate = asyncio.Semaphore(4)

        async def create(i: int) -> None:
            async with gate:
                response = await client.post("/v1/projects", json={"name": f"s{i}"})
                response.raise_for_status()

        await asyncio.gather(*(create(i) for i in range(count)))
        print(f"{count} running computes created in {time.perf_counter() - started:.0f} s")
        sampler = Sampler(server.runtime)
        passes = []
        for _ in range(3):
            started = time.perf_counter()
            sampled = await sampler.run_once()
            passes.append(time.perf_counter() - started)
        print(summary(f"sampler pass over {sampled} running endpoints", passes))

        latencies: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            while not done.is_set():
                begun = time.perf_counter()
                (await client.get("/v1/plans")).raise_for_status()
                latencies.append(time.perf_counter() - begun)

        prober = asyncio.create_task(probe())
        await asyncio.sleep(0.5)
        quiet = len(latencies)
        await sampler.run_once()
        done.set()
        await prober
        print(summary("API latency during a pass", latencies[quiet:]))
        print(summary("API latency before it", latencies[:quiet]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoints", type=int, default=100)
    uvloop.run(run(parser.parse_args().endpoints))


if __name__ == "__main__":
    main()
