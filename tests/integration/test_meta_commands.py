"""psql meta-commands through the SQL API show exactly what the psql binary shows."""

from __future__ import annotations

import asyncio
import re
import subprocess
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lampion.runtime import Runtime

pytestmark = pytest.mark.compute

SETUP = """
CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.items (id int PRIMARY KEY, name text NOT NULL DEFAULT 'x');
CREATE INDEX IF NOT EXISTS items_name ON shop.items (name);
CREATE TABLE IF NOT EXISTS public.users (id serial PRIMARY KEY, email text UNIQUE);
CREATE TABLE IF NOT EXISTS public."Quoted Name" (id int PRIMARY KEY, "Odd Column" text);
CREATE TABLE IF NOT EXISTS public."Mixed Case Table" (x int);
CREATE OR REPLACE VIEW public.emails AS SELECT email FROM public.users;
CREATE OR REPLACE FUNCTION public.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b';
DO $$ BEGIN CREATE ROLE reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
"""

COMMANDS = [
    "\\dt",
    "\\dt+ public.*",
    "\\dt shop.*",
    "\\d",
    "\\d users",
    "\\d shop.items",
    "\\dn",
    "\\dn+",
    "\\du",
    "\\l",
    "\\dx",
    "\\di",
    "\\di+",
    "\\dv",
    "\\df",
    "\\df+ public.add",
    "\\dtS pg_class",
    '\\d "Quoted Name"',
    '\\d public."Quoted Name"',
    '\\dt "Mixed Case"*',
    '\\dt+ "Quoted"*',
]


def psql_lines(psql: str, dsn: str, command: str) -> list[str]:
    result = subprocess.run(
        [psql, "-X", "-q", "-A", "-c", command, dsn],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if not re.match(r"^\(\d+ rows?\)$", line)]


def psql_run(psql: str, dsn: str, command: str) -> subprocess.CompletedProcess[str]:
    """psql as a user runs it (not quiet): what it says goes to stderr."""
    return subprocess.run(
        [psql, "-X", "-A", "-c", command, dsn], capture_output=True, text=True, timeout=30
    )


def api_lines(body: dict[str, Any]) -> list[str]:
    lines = [body["title"], "|".join(body["columns"])]
    lines += ["|".join(row[c] for c in body["columns"]) for row in body["rows"]]
    lines += body["footers"]
    return "\n".join(lines).splitlines()  # multi-line values print over several lines


@pytest.fixture(scope="module")
def described() -> dict[str, bool]:
    return {}


async def test_meta_commands_match_psql(
    api: httpx.AsyncClient, shared_project: dict[str, Any], app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    url = f"/v1/projects/{shared_project['id']}/endpoints/{shared_project['endpoint_id']}/sql"
    assert (await api.post(url, json={"query": SETUP})).status_code == 200
    psql = str(runtime.install_for(shared_project["pg_version"]).tool("psql"))
    dsn = shared_project["connection_string"].replace("sslmode=require", "sslmode=disable")
    for command in COMMANDS:
        response = await api.post(url, json={"query": command})
        assert response.status_code == 200, (command, response.text)
        expected = await asyncio.to_thread(psql_lines, psql, dsn, command)
        assert api_lines(response.json()) == expected, command


async def test_conninfo_and_unsupported_commands(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    url = f"/v1/projects/{shared_project['id']}/endpoints/{shared_project['endpoint_id']}/sql"
    info = (await api.post(url, json={"query": "\\conninfo"})).json()
    assert info["title"].startswith(
        'You are connected to database "postgres" as user "cloud_admin"'
    )
    for hostile in [
        "\\! ls",
        "\\o /tmp/x",
        "\\dt; \\! id",
        "\\dt `id`",
        "\\i /etc/passwd",
        "\\copy x",
    ]:
        response = await api.post(url, json={"query": hostile})
        assert response.status_code == 400, hostile
        assert "Unsupported meta-command" in response.json()["error"]["message"]


async def test_psql_messages_are_psqls_own(
    api: httpx.AsyncClient, shared_project: dict[str, Any], app: FastAPI
) -> None:
    """What psql says when it finds nothing: a failure (\\d) is a 400 carrying psql's
    message; a listing that finds nothing (\\dt) is a 200 whose title is the message."""
    runtime: Runtime = app.state.runtime
    url = f"/v1/projects/{shared_project['id']}/endpoints/{shared_project['endpoint_id']}/sql"
    psql = str(runtime.install_for(shared_project["pg_version"]).tool("psql"))
    dsn = shared_project["connection_string"].replace("sslmode=require", "sslmode=disable")
    for command in ["\\d missing", '\\d "Not There"', "\\d (", "\\df+ nothing.here"]:
        expected = await asyncio.to_thread(psql_run, psql, dsn, command)
        response = await api.post(url, json={"query": command})
        if expected.returncode != 0:
            assert response.status_code == 400, (command, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_request"
            assert error["message"] == expected.stderr.strip().removeprefix("ERROR:").strip()
            assert error["details"] == {"command": command}
        else:
            assert response.status_code == 200, (command, response.text)
            lines = await asyncio.to_thread(psql_lines, psql, dsn, command)
            assert api_lines(response.json()) == lines, command
    missing = await api.post(url, json={"query": "\\d missing"})
    assert missing.json()["error"]["message"] == 'Did not find any relation named "missing".'
    expected = await asyncio.to_thread(psql_run, psql, dsn, "\\dt nothing_like_this*")
    assert (expected.returncode, expected.stdout) == (0, "")
    response = await api.post(url, json={"query": "\\dt nothing_like_this*"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == expected.stderr.strip()
    assert (body["columns"], body["rows"]) == ([], [])
