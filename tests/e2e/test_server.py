"""The README's flow, as a user runs it: `lampion keys create`, `lampion serve`, curl, psql."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.e2e.conftest import LAMPION, new_key
from tests.support.pg import direct_dsn, psql

pytestmark = [pytest.mark.e2e, pytest.mark.compute]


def test_readme_flow(server: tuple[str, Path], server_env: dict[str, str]) -> None:
    base, log_path = server
    key = new_key(server_env, "acme")
    assert key.startswith("lmp_live_")

    # Exactly what `curl -X POST -H "Authorization: Bearer $KEY" -d '{...}'` sends.
    response = httpx.post(
        f"{base}/v1/projects",
        content=b'{"name":"my-app","region":"fr-par-1"}',
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=60,
    )
    assert response.status_code == 201, response.text
    project = response.json()

    result = psql(project["connection_string"], "SELECT 'hello from ' || current_database()")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from postgres"
    for negotiation in ("postgres", "direct") * 10:  # TLS on the server's own loop (uvloop)
        with psycopg.connect(
            project["connection_string"], sslnegotiation=negotiation, connect_timeout=10
        ) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)

    deleted = httpx.delete(
        f"{base}/v1/projects/{project['id']}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert deleted.status_code == 204
    server_log = log_path.read_text()
    assert '"path": "/v1/projects"' in server_log
    assert project["pg_password"] not in server_log
    assert key not in server_log


def test_keys_create_rejects_unknown_plan(server_env: dict[str, str]) -> None:
    result = subprocess.run(
        [*LAMPION, "keys", "create", "--org", "acme", "--plan", "platinum"],
        env=server_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Unknown plan" in result.stderr


def test_large_dump_streams_with_flat_memory_and_failures_show(
    server: tuple[str, Path], server_env: dict[str, str]
) -> None:
    import psutil

    base, _ = server
    key = new_key(server_env, "dumper")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        project = client.post("/v1/projects", json={"name": "big"}).json()
        endpoint = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
        filled = client.post(
            f"{endpoint}/sql",
            json={
                "query": (
                    "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 32) AS payload "
                    "FROM generate_series(1, 210000) g"
                )
            },
        )
        assert filled.status_code == 200, filled.text
        server_process = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if "serve" in (p.info["cmdline"] or [])
            and server_env["LAMPION_DATA_DIR"] in str(p.environ().get("LAMPION_DATA_DIR", ""))
        )
        baseline = server_process.memory_info().rss
        peak, received = baseline, 0
        with client.stream("GET", f"{endpoint}/dump") as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received += len(chunk)
                peak = max(peak, server_process.memory_info().rss)
        assert received > 200 * 1024 * 1024
        assert peak - baseline < 64 * 1024 * 1024, f"server grew by {(peak - baseline) >> 20} MB"

        # pg_dump dying mid-stream must not look like a complete file
        direct = direct_dsn(project["pg_password"], project["pg_port"])

        def read_while_pg_dump_is_killed() -> None:
            with client.stream("GET", f"{endpoint}/dump") as response:
                chunks = response.iter_bytes()
                next(chunks)
                psql(
                    direct,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'COPY public.big%'",
                )
                for _ in chunks:
                    pass

        with pytest.raises(httpx.RemoteProtocolError):
            read_while_pg_dump_is_killed()
        client.delete(f"/v1/projects/{project['id']}")
