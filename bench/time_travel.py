"""Time travel over a parent under writes: point-in-time branches and restores in place.

Issue 15: a parent of about 1 GB (`pgbench -i`, --scale 68) that then takes --minutes 15 of
`pgbench` writes. Measured, for the `copy` driver (default filesystem) and `reflink`
(loop-mounted XFS) in one run:
- p50 of "create a branch at a point --ago minutes before the writes ended (default: a
  third of the write period, 5 of 15 minutes) → first query answered on it";
- p50 of "restore a branch in place to that point of the parent's history → first query
  answered on its unchanged connection string";
- the WAL replay rate: WAL bytes replayed / redo seconds, as each recovering compute logs them
  ("redo starts at …", "redo done at … elapsed: … s").
Targets with reflink: branch ≤ 2 s, restore ≤ 3 s; copy is reported as measured.
Run: `.venv/bin/python -m bench.time_travel [--scale 68] [--minutes 15] [--runs 5]`
(small: `--scale 10 --minutes 1 --runs 3`). Needs root and xfsprogs for the reflink column.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bench.common import BenchServer, bench_server, percentile, xfs_dir
from lampion.compute.installations import PgInstall

FIRST_QUERY = "SELECT aid FROM pgbench_accounts LIMIT 1"
_REDO_START = re.compile(r"redo starts at ([0-9A-F]+/[0-9A-F]+)")
_REDO_DONE = re.compile(r"redo done at ([0-9A-F]+/[0-9A-F]+).*elapsed: ([0-9.]+) s")


@dataclass(frozen=True)
class Config:
    scale: int
    minutes: float
    ago_minutes: float
    runs: int
    clients: int


@dataclass(frozen=True)
class Parent:
    project: dict[str, Any]
    point: str
    """RFC 3339: the point the branches and restores go back to."""
    size_mb: float
    wal_mb: float
    """WAL written by the write period."""
    tps: float


@dataclass
class Replay:
    bytes: int
    seconds: float


@dataclass
class DriverResult:
    driver: str
    parent: Parent
    branch: list[float] = field(default_factory=list)
    restore: list[float] = field(default_factory=list)
    replays: list[Replay] = field(default_factory=list)


def lsn_value(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


async def pgbench(install: PgInstall, dsn: str, *args: str) -> str:
    tool = install.tool("pgbench")
    if not tool.exists():
        raise SystemExit(f"pgbench is not in {install.bin_dir}")
    process = await asyncio.create_subprocess_exec(
        str(tool),
        *args,
        dsn,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} failed: {err.decode()[-2000:]}")
    return out.decode()


def direct_dsn(project: dict[str, Any]) -> str:
    """The compute's own port, not the proxy: the load goes straight to postgres (and the
    installation's pgbench may be built without TLS)."""
    proxied = urlsplit(project["connection_string"])
    return urlunsplit(
        ("postgresql", f"{proxied.username}:{proxied.password}@127.0.0.1:{project['pg_port']}",
         "/postgres", "sslmode=disable", "")
    )  # fmt: skip


async def sql(dsn: str, query: str) -> Any:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchrow(query)
    finally:
        await connection.close()


async def first_query(dsn: str) -> None:
    await sql(dsn, FIRST_QUERY)


async def point_after(dsn: str, seconds: float) -> asyncpg.Record:
    await asyncio.sleep(seconds)
    return await sql(dsn, "SELECT clock_timestamp() AS time, pg_current_wal_lsn()::text AS lsn")


async def prepare_parent(client: httpx.AsyncClient, server: BenchServer, config: Config) -> Parent:
    """A project filled by ``pgbench -i``, then ``pgbench`` writes for the configured time; the
    point is taken (time and LSN recorded on the parent) while the writes run."""
    response = await client.post("/v1/projects", json={"name": "time-travel"})
    response.raise_for_status()
    project: dict[str, Any] = response.json()
    dsn = direct_dsn(project)
    install = server.runtime.install_for(project["pg_version"])
    await pgbench(install, dsn, "-i", "-q", "-s", str(config.scale))
    size = (await sql(dsn, "SELECT pg_database_size(current_database()) AS b"))["b"]
    before = (await sql(dsn, "SELECT pg_current_wal_lsn()::text AS lsn"))["lsn"]
    seconds = config.minutes * 60
    writes = pgbench(
        install, dsn, "-n", "-T", str(int(seconds)), "-c", str(config.clients), "-j", "2"
    )
    point_at = point_after(dsn, seconds - config.ago_minutes * 60)
    output, point = await asyncio.gather(writes, point_at)
    after = (await sql(dsn, "SELECT pg_current_wal_lsn()::text AS lsn"))["lsn"]
    tps = re.search(r"tps = ([0-9.]+)", output)
    return Parent(
        project=project,
        point=point["time"].isoformat(),
        size_mb=size / 2**20,
        wal_mb=(lsn_value(after) - lsn_value(before)) / 2**20,
        tps=float(tps.group(1)) if tps else 0.0,
    )


def log_size(server: BenchServer, endpoint_id: str) -> int:
    try:
        return server.runtime.compute.log_path(endpoint_id).stat().st_size
    except FileNotFoundError:
        return 0


def replay_in_log(path: Path, offset: int) -> Replay | None:
    """The last recovery a compute's log shows after ``offset``."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return None
    starts, dones = _REDO_START.findall(text), _REDO_DONE.findall(text)
    if not starts or not dones:
        return None
    (end, seconds), start = dones[-1], starts[-1]
    return Replay(lsn_value(end) - lsn_value(start), float(seconds))


async def delete(client: httpx.AsyncClient, url: str, *, patience: float = 60.0) -> None:
    """Deletes a branch once no other operation holds it: a pass of the history worker (a
    snapshot of the new branch, its pruning) answers a delete meanwhile with 409."""
    deadline = time.monotonic() + patience
    while (response := await client.delete(url)).status_code == 409:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    response.raise_for_status()


async def measure_branches(
    client: httpx.AsyncClient, server: BenchServer, parent: Parent, result: DriverResult, runs: int
) -> None:
    branches = f"/v1/projects/{parent.project['id']}/branches"
    for i in range(runs):
        started = time.perf_counter()
        response = await client.post(
            branches, json={"name": f"at-point-{i}", "parent_timestamp": parent.point}
        )
        response.raise_for_status()
        created = response.json()
        await first_query(created["connection_string"])
        result.branch.append(time.perf_counter() - started)
        replay = replay_in_log(server.runtime.compute.log_path(created["compute_id"]), 0)
        if replay is not None:
            result.replays.append(replay)
        await delete(client, f"{branches}/{created['id']}")


async def measure_restores(
    client: httpx.AsyncClient, server: BenchServer, parent: Parent, result: DriverResult, runs: int
) -> None:
    """One branch of the parent's present, restored ``runs`` times to the parent's point."""
    branches = f"/v1/projects/{parent.project['id']}/branches"
    response = await client.post(branches, json={"name": "restored"})
    response.raise_for_status()
    branch = response.json()
    body = {"source_branch_id": parent.project["branch_id"], "source_timestamp": parent.point}
    for _ in range(runs):
        offset = log_size(server, branch["compute_id"])
        started = time.perf_counter()
        (await client.post(f"{branches}/{branch['id']}/restore", json=body)).raise_for_status()
        await first_query(branch["connection_string"])
        result.restore.append(time.perf_counter() - started)
        replay = replay_in_log(server.runtime.compute.log_path(branch["compute_id"]), offset)
        if replay is not None:
            result.replays.append(replay)
    await delete(client, f"{branches}/{branch['id']}")


def history_settings(config: Config) -> dict[str, float]:
    """The server's history schedule scaled to the write period: the defaults (a pass
    every 30 s, a reflink snapshot every 5 minutes) are what a 15-minute run sees; the WAL
    thresholds stay as they are (the write rate does not scale)."""
    scale = config.minutes / 15
    return {"history_interval": 30 * scale, "snapshot_interval": max(1, round(300 * scale))}


async def bench_driver(label: str, root: Path | None, config: Config) -> DriverResult:
    async with (
        bench_server(root, **history_settings(config)) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=3600
        ) as client,
    ):
        print(f"{label}: filling the parent (scale {config.scale}), then writes…", flush=True)
        parent = await prepare_parent(client, server, config)
        result = DriverResult(server.runtime.storage.name, parent)
        print(f"{label}: measuring point-in-time branches…", flush=True)
        await measure_branches(client, server, parent, result, config.runs)
        print(f"{label}: measuring restores in place…", flush=True)
        await measure_restores(client, server, parent, result, config.runs)
        await client.delete(f"/v1/projects/{parent.project['id']}")
        return result


def _ms(samples: list[float]) -> str:
    return f"{percentile(samples, 50) * 1000:.0f} ms" if samples else "-"


def table(config: Config, results: list[DriverResult]) -> str:
    def rate(result: DriverResult) -> str:
        rates = [r.bytes / r.seconds / 2**20 for r in result.replays if r.seconds > 0]
        return f"{statistics.median(rates):.0f} MB/s" if rates else "-"

    def replayed(result: DriverResult) -> str:
        sizes = [r.bytes / 2**20 for r in result.replays]
        return f"{statistics.median(sizes):.0f} MB" if sizes else "-"

    n = f"(n={config.runs})"
    rows: list[tuple[str, ...]] = [
        ("", *(r.driver for r in results)),
        ("parent size", *(f"{r.parent.size_mb:.0f} MB" for r in results)),
        ("writes: WAL / tps", *(f"{r.parent.wal_mb:.0f} MB / {r.parent.tps:.0f}" for r in results)),
        (f"branch at point -> 1st query p50 {n}", *(_ms(r.branch) for r in results)),
        (f"restore in place -> 1st query p50 {n}", *(_ms(r.restore) for r in results)),
        ("WAL replayed per recovery (median)", *(replayed(r) for r in results)),
        ("WAL replay rate (median)", *(rate(r) for r in results)),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    header = (
        f"time travel: pgbench scale {config.scale}, {config.minutes:.3g} min of writes "
        f"({config.clients} clients), point {config.ago_minutes:.3g} min before their end; "
        f"history {history_settings(config)}"
    )
    return "\n".join([header, *lines])


async def run(config: Config, xfs_size: str, drivers: list[str]) -> None:
    results = []
    if "copy" in drivers:
        results.append(await bench_driver("copy", None, config))
    if "reflink" in drivers:
        with xfs_dir(xfs_size) as mount:
            if mount is not None:
                results.append(await bench_driver("reflink", mount, config))
    print(table(config, results), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=68, help="pgbench scale (68: about 1 GB)")
    parser.add_argument("--minutes", type=float, default=15.0, help="of pgbench writes")
    parser.add_argument(
        "--ago", type=float, default=None, help="minutes before the writes end (default: a third)"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=2, help="pgbench clients")
    parser.add_argument("--drivers", default="copy,reflink")
    parser.add_argument("--xfs-size", default="40G", help="of the sparse XFS image")
    args = parser.parse_args()
    config = Config(
        scale=args.scale,
        minutes=args.minutes,
        ago_minutes=args.minutes / 3 if args.ago is None else args.ago,
        runs=args.runs,
        clients=args.clients,
    )
    asyncio.run(run(config, args.xfs_size, args.drivers.split(",")))


if __name__ == "__main__":
    main()
