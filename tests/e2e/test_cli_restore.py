"""`lampion branches reset|restore` against a real server: a CI branch's morning refresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import lampion, new_key
from tests.support.pg import psql

pytestmark = [pytest.mark.e2e, pytest.mark.compute]


def test_reset_and_restore_keep_the_connection_string(
    server: tuple[str, Path], server_env: dict[str, str]
) -> None:
    base, _ = server
    env = {**server_env, "LAMPION_API_URL": base, "LAMPION_API_KEY": new_key(server_env, "ci-r")}
    project = json.loads(lampion(env, "projects", "create", "--name", "refresh").stdout)
    psql(project["connection_string"], "CREATE TABLE t AS SELECT 1 AS id")
    ci = json.loads(
        lampion(env, "branches", "create", "--project", "refresh", "--name", "ci").stdout
    )
    dsn = ci["connection_string"]
    psql(dsn, "INSERT INTO t VALUES (2)")
    psql(project["connection_string"], "INSERT INTO t VALUES (3)")

    reset = lampion(env, "branches", "reset", "ci", "--project", "refresh", "--output", "json")
    assert reset.returncode == 0, reset.stderr
    assert json.loads(reset.stdout)["id"] == ci["id"]
    assert psql(dsn, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t").stdout.strip() == "1,3"

    psql(dsn, "INSERT INTO t VALUES (4)")
    restored = lampion(env, "branches", "restore", "ci", "--project", "refresh",
                       "--source", "main", "--preserve-under-name", "ci-before")  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert psql(dsn, "SELECT count(*) FROM t").stdout.strip() == "2"
    listed = json.loads(lampion(env, "branches", "list", "--project", "refresh").stdout)
    assert sorted(b["name"] for b in listed) == ["ci", "ci-before", "main"]

    lsn = psql(project["connection_string"], "SELECT pg_current_wal_lsn()").stdout.strip()
    psql(project["connection_string"], "INSERT INTO t VALUES (5)")
    at_lsn = lampion(env, "branches", "create", "--project", "refresh", "--name", "before-5",
                     "--lsn", lsn)  # fmt: skip
    assert at_lsn.returncode == 0, at_lsn.stderr
    at_dsn = json.loads(at_lsn.stdout)["connection_string"]
    assert (
        psql(at_dsn, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t").stdout.strip() == "1,3"
    )

    main = project["connection_string"]
    undo_to = psql(main, "SELECT pg_current_wal_lsn()").stdout.strip()
    psql(main, "DROP TABLE t")
    undone = lampion(env, "branches", "restore", "main", "--project", "refresh", "--lsn", undo_to)
    assert undone.returncode == 0, undone.stderr
    assert (
        psql(main, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t").stdout.strip() == "1,3,5"
    )

    refused = lampion(env, "branches", "restore", "ci", "--project", "refresh", "--source", "ci")
    assert refused.returncode == 1
    assert "Nothing to restore" in refused.stderr
    assert lampion(env, "projects", "delete", "refresh").returncode == 0
