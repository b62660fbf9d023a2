"""The CLI's branch settings against a real server: expiry, protection, schema diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import lampion, new_key
from tests.support.pg import psql

pytestmark = [pytest.mark.e2e, pytest.mark.compute]


def test_expiration_protection_and_schema_diff(
    server: tuple[str, Path], server_env: dict[str, str]
) -> None:
    base, _ = server
    key = new_key(server_env, "settings")
    env = {**server_env, "LAMPION_API_URL": base, "LAMPION_API_KEY": key}
    project = json.loads(lampion(env, "projects", "create", "--name", "shop").stdout)
    psql(project["connection_string"], "CREATE TABLE orders (id int)")
    made = lampion(env, "branches", "create", "--project", "shop", "--name", "ci")
    assert made.returncode == 0, made.stderr
    ci = json.loads(made.stdout)

    expiring = lampion(env, "branches", "set-expiration", "ci", "--project", "shop",
                       "--at", "2099-01-01T00:00:00Z", "--output", "json")  # fmt: skip
    assert expiring.returncode == 0, expiring.stderr
    assert json.loads(expiring.stdout)["expires_at"] == "2099-01-01T00:00:00Z"
    cleared = lampion(env, "branches", "set-expiration", "ci", "--project", "shop", "--clear")
    assert json.loads(cleared.stdout)["expires_at"] is None
    both = lampion(env, "branches", "set-expiration", "ci", "--project", "shop", "--clear",
                   "--at", "2099-01-01T00:00:00Z")  # fmt: skip
    assert both.returncode == 2
    past = lampion(env, "branches", "set-expiration", "ci", "--project", "shop",
                   "--at", "2001-01-01T00:00:00Z")  # fmt: skip
    assert past.returncode == 1
    assert "expires_at" in past.stderr

    protected = lampion(env, "branches", "protect", "ci", "--project", "shop")
    assert json.loads(protected.stdout)["protected"] is True
    refused = lampion(env, "branches", "delete", "--project", "shop", "--branch", "ci")
    assert refused.returncode == 1
    assert "is protected" in refused.stderr
    unprotected = lampion(env, "branches", "protect", "ci", "--project", "shop", "--off")
    assert json.loads(unprotected.stdout)["protected"] is False

    same = lampion(env, "branches", "schema-diff", "ci", "--project", "shop")
    assert same.returncode == 0, same.stderr
    assert same.stdout == ""
    before = psql(ci["connection_string"], "SELECT pg_current_wal_lsn()").stdout.strip()
    psql(ci["connection_string"], "ALTER TABLE orders ADD COLUMN total numeric")
    diff = lampion(env, "branches", "schema-diff", "ci", "--project", "shop")
    assert diff.stdout.startswith("--- a/main\n+++ b/ci\n"), diff.stdout
    assert "+    total numeric" in diff.stdout.splitlines()
    as_json = lampion(env, "branches", "schema-diff", "ci", "--project", "shop",
                      "--base", "main", "--database", "postgres", "--output", "json")  # fmt: skip
    assert json.loads(as_json.stdout) == {"diff": diff.stdout}
    since = lampion(env, "branches", "schema-diff", "ci", "--project", "shop",
                    "--base", "ci", "--lsn", before)  # fmt: skip
    assert since.returncode == 0, since.stderr
    assert "+    total numeric" in since.stdout.splitlines()
