"""The CLI against a real server: the CI flow of a branch database per pull request."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import LAMPION, lampion, new_key
from tests.support.pg import psql

pytestmark = [pytest.mark.e2e, pytest.mark.compute]


def test_branch_per_pull_request(
    server: tuple[str, Path],
    server_env: dict[str, str],
) -> None:
    base, _ = server
    key = new_key(server_env, "ci")
    env = {**server_env, "LAMPION_API_URL": base, "LAMPION_API_KEY": key}

    created = lampion(env, "projects", "create", "--name", "shop", "--output", "json")
    assert created.returncode == 0, created.stderr
    project = json.loads(created.stdout)
    assert project["name"] == "shop"
    psql(project["connection_string"], "CREATE TABLE orders AS SELECT 1 AS id")

    branch = lampion(env, "branches", "create", "--project", "shop", "--name", "pr-123",
                     "--parent", "main", "--output", "json")  # fmt: skip
    assert branch.returncode == 0, branch.stderr
    made = json.loads(branch.stdout)  # not a terminal: JSON
    assert made["name"] == "pr-123"
    assert made["connection_string"].startswith("postgresql://")

    again = lampion(env, "branches", "create", "--project", "shop", "--name", "pr-123",
                    "--if-not-exists")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["id"] == made["id"]
    duplicate = lampion(env, "branches", "create", "--project", "shop", "--name", "pr-123")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    assert "(request req_" in duplicate.stderr

    url = lampion(env, "connection-string", "--project", "shop", "--branch", "pr-123")
    assert url.returncode == 0, url.stderr
    database_url = url.stdout.strip()
    assert psql(database_url, "SELECT count(*) FROM orders").stdout.strip() == "1"

    listed = json.loads(lampion(env, "branches", "list", "--project", "shop").stdout)
    assert [b["name"] for b in listed] == ["main", "pr-123"]

    assert (
        lampion(env, "branches", "delete", "--project", "shop", "--branch", "pr-123").returncode
        == 0
    )
    gone = lampion(env, "branches", "delete", "--project", "shop", "--branch", "pr-123")
    assert gone.returncode == 1
    assert lampion(env, "branches", "delete", "--project", "shop", "--branch", "pr-123",
                   "--if-exists").returncode == 0  # fmt: skip
    assert psql(database_url, "SELECT 1").returncode != 0

    yaml_out = lampion(env, "projects", "get", "shop", "--output", "yaml")
    assert "name: shop" in yaml_out.stdout
    assert lampion(env, "projects", "delete", "shop").returncode == 0
    assert lampion(env, "projects", "delete", "shop", "--if-exists").returncode == 0


def test_usage_errors_exit_2(server_env: dict[str, str]) -> None:
    env = {**server_env, "LAMPION_API_KEY": "lmp_live_" + "0" * 32}
    assert lampion(env, "branches", "create", "--name", "x").returncode == 2  # no --project
    no_key = {k: v for k, v in server_env.items() if k != "LAMPION_API_KEY"}
    assert lampion(no_key, "projects", "list").returncode == 2
    help_text = lampion(env, "branches", "create", "--help").stdout
    assert "--if-not-exists" in help_text


def test_sql_dump_endpoints_webhooks_usage(
    server: tuple[str, Path], server_env: dict[str, str], tmp_path: Path
) -> None:
    base, _ = server
    key = new_key(server_env, "cli-more")
    env = {**server_env, "LAMPION_API_URL": base, "LAMPION_API_KEY": key}
    assert lampion(env, "projects", "create", "--name", "tools").returncode == 0

    made = lampion(env, "sql", "--project", "tools", "CREATE TABLE t AS SELECT 42 AS answer")
    assert made.returncode == 0, made.stderr
    rows = json.loads(lampion(env, "sql", "--project", "tools", "SELECT answer FROM t").stdout)
    assert rows == [{"answer": 42}]
    script = tmp_path / "script.sql"
    script.write_text("INSERT INTO t VALUES (7); SELECT count(*) AS n FROM t")
    assert json.loads(lampion(env, "sql", "--project", "tools", "-f", str(script)).stdout) == [
        {"n": 2}
    ]
    piped = subprocess.run(
        [*LAMPION, "sql", "--project", "tools"], input="SELECT 'stdin' AS via", env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert json.loads(piped.stdout) == [{"via": "stdin"}]
    failed = lampion(env, "sql", "--project", "tools", "SELECT nope")
    assert failed.returncode == 1
    assert "does not exist" in failed.stderr

    out = tmp_path / "tools.sql"
    assert lampion(env, "dump", "--project", "tools", "--to", str(out)).returncode == 0
    assert "PostgreSQL database dump" in out.read_text()

    suspended = json.loads(lampion(env, "endpoints", "suspend", "--project", "tools").stdout)
    assert suspended["status"] == "suspended"
    resumed = json.loads(lampion(env, "endpoints", "resume", "--project", "tools").stdout)
    assert resumed["status"] == "running"
    updated = lampion(env, "endpoints", "set", "--project", "tools", "--auto-suspend-seconds", "0")
    assert json.loads(updated.stdout)["auto_suspend_seconds"] == 0
    listed = json.loads(lampion(env, "endpoints", "list", "--project", "tools").stdout)
    assert listed[0]["auto_suspend_seconds"] == 0

    usage = json.loads(lampion(env, "usage").stdout)
    assert {"plan", "total", "estimated_cost"} <= set(usage)
    assert lampion(env, "webhooks", "list").stdout.strip() == "[]"
    assert lampion(env, "projects", "delete", "tools").returncode == 0


async def test_async_client_against_the_server(
    server: tuple[str, Path], server_env: dict[str, str]
) -> None:
    from lampion.client import AsyncLampion, NotFoundError

    base, _ = server
    key = new_key(server_env, "async-client")
    async with AsyncLampion(api_url=base, api_key=key) as api:
        project = await api.projects.create("async-made")
        assert project.connection_string.startswith("postgresql://")
        got = await api.projects.get(project.id)
        assert got.name == "async-made"
        branch = await api.branches.create(project.id, "feature", if_not_exists=True)
        assert branch is not None
        assert branch.parent_id == project.branch_id
        assert await api.branches.create(project.id, "feature", if_not_exists=True) is None
        assert await api.endpoints.set_allowlist(
            project.id, project.endpoint_id, ["10.0.0.0/8"]
        ) == ["10.0.0.0/8"]
        assert await api.endpoints.allowlist(project.id, project.endpoint_id) == ["10.0.0.0/8"]
        await api.endpoints.set_allowlist(project.id, project.endpoint_id, [])
        result = await api.data.sql(project.id, project.endpoint_id, "SELECT 1 AS one")
        assert result.rows == [{"one": 1}]
        with pytest.raises(NotFoundError) as missing:
            await api.projects.get("prj-doesnotexist")
        assert missing.value.request_id is not None
        assert missing.value.request_id.startswith("req_")
        await api.projects.delete(project.id)
        await api.projects.delete(project.id, if_exists=True)  # gone: no error
