"""The CLI against a real server: the CI flow of a branch database per pull request."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import LAMPION
from tests.support.pg import psql

pytestmark = [pytest.mark.e2e, pytest.mark.compute]


def lampion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LAMPION, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_branch_per_pull_request(
    server: tuple[str, Path],
    server_env: dict[str, str],
) -> None:
    base, _ = server
    key = lampion(server_env, "keys", "create", "--org", "ci").stdout.strip()
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
