"""pgbench -S (select-only) straight to a compute and through the proxy, in one run.

Target (issue 4): through the proxy >= 90% of the direct TPS (8 clients, 20 s).
Run: `.venv/bin/python -m bench.proxy_overhead [--seconds 20] [--clients 8]`. Where HAProxy
is installed, a run through it (TCP mode) shows what a C proxy costs on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import httpx
import uvloop

from bench.common import bench_server

_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")


async def pgbench(binary: str, args: list[str], password: str) -> str:
    process = await asyncio.create_subprocess_exec(
        binary,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PGPASSWORD": password},
    )
    out, _ = await process.communicate()
    text = out.decode()
    if process.returncode != 0:
        raise RuntimeError(text)
    return text


async def start_haproxy(target_port: int) -> tuple[asyncio.subprocess.Process, int]:
    """HAProxy in TCP mode in front of the compute: what a C proxy costs on this machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Path(tempfile.mkdtemp()) / "haproxy.cfg"
    config.write_text(
        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
        "  timeout server 60s\n"
        f"listen pg\n  bind 127.0.0.1:{port}\n  server compute 127.0.0.1:{target_port}\n"
    )
    process = await asyncio.create_subprocess_exec("haproxy", "-f", str(config), "-db")
    await asyncio.sleep(0.5)
    return process, port


async def run(seconds: int, clients: int, scale: int) -> None:
    async with (
        bench_server() as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=600
        ) as client,
    ):
        project = (await client.post("/v1/projects", json={"name": "pgbench"})).json()
        endpoint_url = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
        await client.patch(endpoint_url, json={"auto_suspend_seconds": 0})
        installs = server.runtime.installs
        with_ssl = [i for i in installs if i.ssl]  # the wheel's pgbench has no TLS
        binary = str((with_ssl or installs)[0].tool("pgbench"))
        password = project["pg_password"]
        direct = ["-h", "127.0.0.1", "-p", str(project["pg_port"]), "-U", "cloud_admin"]
        proxied = ["-h", "127.0.0.1", "-p", str(project["port"]), "-U", "cloud_admin"]
        await pgbench(binary, ["-i", "-q", "-s", str(scale), *direct, "postgres"], password)
        load = ["-S", "-c", str(clients), "-j", "2", "-T", str(seconds), "-n"]
        results = {}
        runs = [
            ("direct", direct, "postgres", "disable"),
            ("proxy", proxied, f"{project['endpoint_id']}.postgres", "disable"),
        ]
        if with_ssl:
            runs.append(("proxy+TLS", proxied, f"{project['endpoint_id']}.postgres", "require"))
        haproxy = await start_haproxy(project["pg_port"]) if shutil.which("haproxy") else None
        if haproxy is not None:
            reference = ["-h", "127.0.0.1", "-p", str(haproxy[1]), "-U", "cloud_admin"]
            runs.append(("haproxy", reference, "postgres", "disable"))
        for label, target, database, sslmode in runs:
            os.environ["PGSSLMODE"] = sslmode
            output = await pgbench(binary, [*load, *target, database], password)
            match = _TPS.search(output)
            assert match, output
            results[label] = float(match.group(1))
            print(f"{label:10} tps={results[label]:9.0f}", flush=True)
        print(f"proxy/direct     = {results['proxy'] / results['direct']:.1%}")
        if "proxy+TLS" in results:
            print(f"proxy+TLS/direct = {results['proxy+TLS'] / results['direct']:.1%}")
        if haproxy is not None:
            print(f"haproxy/direct   = {results['haproxy'] / results['direct']:.1%} (reference)")
            haproxy[0].terminate()
            await haproxy[0].wait()
        await client.delete(f"/v1/projects/{project['id']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    uvloop.run(run(args.seconds, args.clients, args.scale))


if __name__ == "__main__":
    main()
