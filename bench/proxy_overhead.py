"""Side by side in one run, on one compute: direct, through the Lampion proxy, through the
proxy's pooler path (``<endpoint>-pooler``), and two references from Debian in front of the
same compute: PgBouncer alone (session mode) and HAProxy (TCP mode).

For each path, plaintext and TLS (``sslmode=require``): steady-state ``pgbench -S`` TPS and
p50/p99 latency (from ``pgbench -l``) at each ``--clients`` count, and the connection-setup
rate (``pgbench -S -C``: every transaction a full connect + SCRAM + ``SELECT`` + close). Then
a wrong password through the proxy to a suspended endpoint, which must wake nothing.

Targets (issue 16): connection setup through the proxy <= 1.5x direct; steady-state TPS through
the proxy >= PgBouncer's; a failed login costs no compute wake-up.
Run: `.venv/bin/python -m bench.proxy_overhead [--seconds 20] [--clients 1 8] [--scale 10]
[--pg-version N]`; the compute is the newest PostgreSQL built with TLS unless ``--pg-version``
says otherwise (the wheel's has no TLS: its direct and HAProxy TLS rows say "n/a").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop

from bench.common import (
    BenchServer,
    PgbenchFailed,
    _free_port,
    bench_server,
    percentile,
    pgbench,
    pgbench_latencies,
    wait_for_port,
)
from lampion.compute.osuser import OsUser, resolve
from lampion.proxy import tls

_STEADY_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
_CONNECT_TPS = re.compile(r"tps = ([0-9.]+) \(including reconnection times\)")
_PGBOUNCER = "/usr/sbin/pgbouncer"
_USER = "cloud_admin"
_ACCOUNTS_PER_SCALE = 100_000


@dataclass(frozen=True)
class Route:
    """One way to reach the compute; ``unavailable`` says why it is not measured."""

    label: str
    port: int
    database: str
    unavailable: str | None = None


@dataclass(frozen=True)
class Load:
    tps: float
    p50: float
    p99: float


Outcome = Load | str
"""A measurement, or why there is none."""


@dataclass(frozen=True)
class Client:
    """What drives the load: pgbench, or (where its libpq has no TLS) asyncpg for TLS runs."""

    pgbench: Path
    pgbench_tls: bool
    password: str
    seconds: int
    scale: int


# --- measuring -------------------------------------------------------------------------------


async def steady(client: Client, route: Route, clients: int, sslmode: str) -> Outcome:
    if sslmode == "require" and not client.pgbench_tls:
        return await _asyncpg_steady(client, route, clients)
    with tempfile.TemporaryDirectory(prefix="lampion-pgbench-") as logs:
        args = [
            *_load_args(clients, client.seconds),
            "-l",
            f"--log-prefix={logs}/tx",
            *_target(route),
        ]
        try:
            output = await pgbench(client.pgbench, args, client.password, sslmode)
        except PgbenchFailed as exc:
            return _why(str(exc))
        latencies = pgbench_latencies(Path(logs))
    return Load(_parse(_STEADY_TPS, output), *_p50_p99(latencies))


async def connects_per_second(client: Client, route: Route, sslmode: str) -> float | str:
    if sslmode == "require" and not client.pgbench_tls:
        return await _asyncpg_connects(client, route)
    args = [*_load_args(1, client.seconds), "-C", *_target(route)]
    try:
        output = await pgbench(client.pgbench, args, client.password, sslmode)
    except PgbenchFailed as exc:
        return _why(str(exc))
    return _parse(_CONNECT_TPS, output)


def _load_args(clients: int, seconds: int) -> list[str]:
    return ["-S", "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]


def _target(route: Route) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(route.port), "-U", _USER, route.database]


def _parse(pattern: re.Pattern[str], output: str) -> float:
    match = pattern.search(output)
    if match is None:
        raise RuntimeError(f"no tps in pgbench's output:\n{output}")
    return float(match.group(1))


def _p50_p99(latencies: list[float]) -> tuple[float, float]:
    if not latencies:
        return float("nan"), float("nan")
    return percentile(latencies, 50), percentile(latencies, 99)


def _why(output: str) -> str:
    if "does not support SSL" in output or "rejected SSL upgrade" in output:
        return "n/a (server without TLS)"
    last = output.strip().splitlines()[-1] if output.strip() else "no output"
    return f"failed: {last[:60]}"


async def _asyncpg_steady(client: Client, route: Route, clients: int) -> Outcome:
    """``pgbench -S``'s query from ``clients`` asyncpg connections over TLS, closed loop."""
    deadline = time.monotonic() + client.seconds
    accounts = client.scale * _ACCOUNTS_PER_SCALE

    async def one() -> list[float]:
        samples: list[float] = []
        connection = await _asyncpg_connect(client, route)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await connection.fetchval(
                    "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
                    random.randint(1, accounts),
                )
                samples.append(time.perf_counter() - started)
        finally:
            await connection.close()
        return samples

    try:
        runs = await asyncio.gather(*(one() for _ in range(clients)))
    except (OSError, asyncpg.PostgresError) as exc:
        return _why(str(exc))
    latencies = [sample for run in runs for sample in run]
    return Load(len(latencies) / client.seconds, *_p50_p99(latencies))


async def _asyncpg_connects(client: Client, route: Route) -> float | str:
    """Connect + SCRAM + ``SELECT 1`` + close over TLS with asyncpg, one after another."""
    deadline = time.monotonic() + client.seconds
    count = 0
    try:
        while time.monotonic() < deadline:
            connection = await _asyncpg_connect(client, route)
            await connection.fetchval("SELECT 1")
            await connection.close()
            count += 1
    except (OSError, asyncpg.PostgresError) as exc:
        return _why(str(exc))
    return count / client.seconds


async def _asyncpg_connect(client: Client, route: Route) -> Any:
    return await asyncpg.connect(
        host="127.0.0.1",
        port=route.port,
        user=_USER,
        password=client.password,
        database=route.database,
        ssl="require",
    )


# --- the paths --------------------------------------------------------------------------------


async def pooler_route(api: httpx.AsyncClient, endpoint_url: str, proxy_port: int) -> Route:
    """The proxy's ``-pooler`` path, where the API offers a pooled connection string."""
    await api.patch(endpoint_url, json={"pooler_enabled": True})  # refused where unknown
    endpoint = (await api.get(endpoint_url)).json()
    database = f"{endpoint['id']}-pooler.postgres"
    if endpoint.get("pooled_connection_string") is None:
        return Route("Lampion proxy, pooler", proxy_port, database, "n/a (no pooler)")
    return Route("Lampion proxy, pooler", proxy_port, database)


@contextlib.asynccontextmanager
async def pgbouncer(server: BenchServer, compute_port: int, verifier: str) -> AsyncIterator[Route]:
    """Debian's PgBouncer alone in session mode in front of the compute, SCRAM from an
    auth_file holding cloud_admin's verifier; TLS to clients with the proxy's certificate."""
    if not Path(_PGBOUNCER).is_file():
        yield Route("PgBouncer (session)", 0, "postgres", f"n/a ({_PGBOUNCER} not installed)")
        return
    user = resolve(server.runtime.settings.pg_user)
    with tempfile.TemporaryDirectory(prefix="lampion-pgbouncer-") as work:
        port = _free_port()
        config = _pgbouncer_files(Path(work), server, compute_port, port, verifier, user)
        switch_user = [] if user.is_current else ["-u", user.name]  # it refuses root
        process = await asyncio.create_subprocess_exec(
            _PGBOUNCER, *switch_user, str(config), stderr=asyncio.subprocess.DEVNULL
        )
        try:
            await wait_for_port(port, process, "pgbouncer")
            yield Route("PgBouncer (session)", port, "postgres")
        finally:
            await _stop(process)


def _pgbouncer_files(
    work: Path, server: BenchServer, compute_port: int, port: int, verifier: str, user: OsUser
) -> Path:
    settings = server.runtime.settings
    cert, key = tls.certificate_files(settings.tls_cert, settings.tls_key, settings.data_dir)
    shutil.copy(cert, work / "server.crt")
    shutil.copy(key, work / "server.key")
    (work / "userlist.txt").write_text(f'"{_USER}" "{verifier}"\n')
    config = work / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"postgres = host=127.0.0.1 port={compute_port} dbname=postgres\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {work}/userlist.txt\n"
        "pool_mode = session\nmax_client_conn = 200\ndefault_pool_size = 20\n"
        "server_tls_sslmode = disable\nclient_tls_sslmode = allow\n"
        f"client_tls_cert_file = {work}/server.crt\nclient_tls_key_file = {work}/server.key\n"
        f"logfile = {work}/pgbouncer.log\n"
    )
    work.chmod(0o755)
    for path in (work, *work.iterdir()):
        user.chown(path)
    return config


@contextlib.asynccontextmanager
async def haproxy(compute_port: int) -> AsyncIterator[Route]:
    """HAProxy in TCP mode in front of the compute (TLS, if any, is the compute's own)."""
    binary = shutil.which("haproxy")
    if binary is None:
        yield Route("HAProxy (TCP)", 0, "postgres", "n/a (haproxy not installed)")
        return
    with tempfile.TemporaryDirectory(prefix="lampion-haproxy-") as work:
        port = _free_port()
        config = Path(work) / "haproxy.cfg"
        config.write_text(
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
            "  timeout server 60s\n"
            f"listen pg\n  bind 127.0.0.1:{port}\n  server compute 127.0.0.1:{compute_port}\n"
        )
        process = await asyncio.create_subprocess_exec(binary, "-f", str(config), "-db")
        try:
            await wait_for_port(port, process, "haproxy")
            yield Route("HAProxy (TCP)", port, "postgres")
        finally:
            await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
    await process.wait()


async def scram_verifier(compute_port: int, password: str) -> str:
    """cloud_admin's SCRAM verifier as the compute stores it (for PgBouncer's auth_file)."""
    connection = await asyncpg.connect(
        host="127.0.0.1", port=compute_port, user=_USER, password=password, database="postgres"
    )
    try:
        verifier: str = await connection.fetchval(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1", _USER
        )
    finally:
        await connection.close()
    return verifier


# --- the failed login --------------------------------------------------------------------------


async def failed_login_check(
    api: httpx.AsyncClient, server: BenchServer, endpoint_url: str, proxy: Route
) -> str:
    """Suspends the endpoint, tries a wrong password through the proxy, and says whether
    the endpoint stayed suspended (by the API's status and the compute's process)."""
    (await api.post(f"{endpoint_url}/suspend")).raise_for_status()
    started = time.perf_counter()
    try:
        connection = await asyncpg.connect(
            host="127.0.0.1",
            port=proxy.port,
            user=_USER,
            password="not-the-password",  # noqa: S106
            database=proxy.database,
            ssl=False,
        )
    except asyncpg.InvalidPasswordError:
        answer = "28P01"
    else:
        await connection.close()
        answer = "accepted (!)"
    elapsed = time.perf_counter() - started
    endpoint = (await api.get(endpoint_url)).json()
    running = endpoint["id"] in await server.runtime.compute.running_endpoints()
    stayed = endpoint["status"] == "suspended" and not running
    return (
        f"failed login to a suspended endpoint: {answer} in {elapsed * 1000:.0f} ms; "
        f"status {endpoint['status']}, compute process {'running' if running else 'absent'} "
        f"-> {_verdict(stayed)} (no wake-up)"
    )


# --- the results -----------------------------------------------------------------------------

SSLMODES = ("disable", "require")


@dataclass
class Results:
    """Every measurement of a run, by route label and sslmode (and client count)."""

    clients: Sequence[int]
    loads: dict[tuple[str, str, int], Outcome] = field(default_factory=dict)
    rates: dict[tuple[str, str], float | str] = field(default_factory=dict)

    def load(self, route: Route, sslmode: str, clients: int) -> Outcome:
        return route.unavailable or self.loads[route.label, sslmode, clients]

    def rate(self, route: Route, sslmode: str) -> float | str:
        return route.unavailable or self.rates[route.label, sslmode]


async def measure(client: Client, routes: Sequence[Route], clients: Sequence[int]) -> Results:
    results = Results(clients)
    for route in routes:
        if route.unavailable is not None:
            continue
        for sslmode in SSLMODES:
            for count in clients:
                outcome = await steady(client, route, count, sslmode)
                results.loads[route.label, sslmode, count] = outcome
            results.rates[route.label, sslmode] = await connects_per_second(client, route, sslmode)
            print(f"  measured {route.label}, sslmode={sslmode}", flush=True)
    return results


def table(routes: Sequence[Route], results: Results, tls_label: str) -> str:
    """One Markdown table; ``tls_label`` marks the TLS rows (and what drove them)."""
    header = ["path", "TLS"]
    for count in results.clients:
        header += [f"TPS c={count}", f"p50 / p99 ms c={count}"]
    header.append("connects/s")
    rows = [header]
    for route in routes:
        for sslmode in SSLMODES:
            cells = [route.label, tls_label if sslmode == "require" else "no"]
            cells += _measured_cells(route, sslmode, results)
            rows.append([*cells, *[""] * (len(header) - len(cells))])
    return _render(rows)


def _measured_cells(route: Route, sslmode: str, results: Results) -> list[str]:
    if route.unavailable is not None:
        return [route.unavailable]
    cells = []
    for count in results.clients:
        outcome = results.load(route, sslmode, count)
        if isinstance(outcome, str):
            cells += [outcome, ""]
        else:
            cells += [f"{outcome.tps:.0f}", f"{outcome.p50 * 1000:.2f} / {outcome.p99 * 1000:.2f}"]
    rate = results.rate(route, sslmode)
    return [*cells, rate if isinstance(rate, str) else f"{rate:.0f}"]


def _render(rows: list[list[str]]) -> str:
    """A Markdown table, columns padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def setup_target(direct: Route, proxy: Route, results: Results) -> str:
    claim = "target: connection setup through the proxy <= 1.5x direct (plaintext)"
    proxied, straight = results.rate(proxy, "disable"), results.rate(direct, "disable")
    if isinstance(proxied, str) or isinstance(straight, str):
        return f"{claim}: not judged ({proxied if isinstance(proxied, str) else straight})"
    ratio = straight / proxied
    return (
        f"{claim}: {ratio:.2f}x ({proxied:.0f} vs {straight:.0f} connects/s) "
        f"-> {_verdict(ratio <= 1.5)}"
    )


def tps_target(proxy: Route, reference: Route, results: Results) -> str:
    most = max(results.clients)
    claim = f"target: steady-state TPS through the proxy >= PgBouncer's (c={most}, plaintext)"
    proxied, pooled = results.load(proxy, "disable", most), results.load(reference, "disable", most)
    if isinstance(proxied, str) or isinstance(pooled, str):
        return f"{claim}: not judged ({proxied if isinstance(proxied, str) else pooled})"
    return (
        f"{claim}: {proxied.tps:.0f} vs {pooled.tps:.0f} -> {_verdict(proxied.tps >= pooled.tps)}"
    )


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# --- the run -----------------------------------------------------------------------------------


def pgbench_binary(server: BenchServer) -> tuple[Path, bool]:
    """A pgbench whose libpq has TLS where one is installed (the wheel's has none)."""
    installs = server.runtime.installs
    with_ssl = [install for install in installs if install.ssl]
    return (with_ssl or installs)[0].tool("pgbench"), bool(with_ssl)


def tls_capable_major(server: BenchServer) -> int | None:
    """The newest PostgreSQL major built with TLS (its computes answer direct TLS), if any."""
    majors = [install.major for install in server.runtime.installs if install.ssl]
    return max(majors, default=None)


async def bench_project(
    api: httpx.AsyncClient, pg_version: int | None
) -> tuple[dict[str, Any], str]:
    """A project whose compute never auto-suspends, and its endpoint's API path."""
    body: dict[str, Any] = {"name": "pgbench"}
    if pg_version is not None:
        body["pg_version"] = pg_version
    response = await api.post("/v1/projects", json=body)
    response.raise_for_status()
    project: dict[str, Any] = response.json()
    endpoint_url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
    (await api.patch(endpoint_url, json={"auto_suspend_seconds": 0})).raise_for_status()
    return project, endpoint_url


async def fill(client: Client, compute_port: int) -> None:
    target = ["-h", "127.0.0.1", "-p", str(compute_port), "-U", _USER, "postgres"]
    await pgbench(client.pgbench, ["-i", "-q", "-s", str(client.scale), *target], client.password)


async def run(seconds: int, clients: Sequence[int], scale: int, pg_version: int | None) -> None:
    async with (
        bench_server(proxy_port=_free_port()) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=600
        ) as api,
    ):
        project, endpoint_url = await bench_project(api, pg_version or tls_capable_major(server))
        binary, binary_tls = pgbench_binary(server)
        client = Client(binary, binary_tls, project["pg_password"], seconds, scale)
        compute_port = project["pg_port"]
        await fill(client, compute_port)
        direct = Route("direct to the compute", compute_port, "postgres")
        proxy = Route("Lampion proxy", project["port"], f"{project['endpoint_id']}.postgres")
        pooled = await pooler_route(api, endpoint_url, project["port"])
        verifier = await scram_verifier(compute_port, client.password)
        async with (
            pgbouncer(server, compute_port, verifier) as bouncer,
            haproxy(compute_port) as tcp,
        ):
            routes = [direct, proxy, pooled, bouncer, tcp]
            results = await measure(client, routes, clients)
        print(
            f"PostgreSQL {project['pg_version']}; pgbench -S, {seconds} s per cell, scale {scale}; "
            "connects/s: pgbench -S -C"
        )
        if not binary_tls:
            print("pgbench's libpq has no TLS: the TLS rows were driven by asyncpg instead")
        print(table(routes, results, "yes" if binary_tls else "yes (asyncpg)"))
        print(setup_target(direct, proxy, results))
        print(tps_target(proxy, bouncer, results))
        print(await failed_login_check(api, server, endpoint_url, proxy))
        await api.delete(f"/v1/projects/{project['id']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="per measurement")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--scale", type=int, default=10, help="pgbench -i scale")
    parser.add_argument(
        "--pg-version", type=int, help="the compute's major (default: the newest with TLS)"
    )
    args = parser.parse_args()
    uvloop.run(run(args.seconds, args.clients, args.scale, args.pg_version))


if __name__ == "__main__":
    main()
