"""The SQL API on a real compute: scripts, values, errors, limits, wake-up."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.pg import fetchval

pytestmark = pytest.mark.compute


def sql_url(project: dict[str, Any]) -> str:
    return f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}/sql"


async def run(
    api: httpx.AsyncClient, project: dict[str, Any], query: str, **extra: Any
) -> httpx.Response:
    return await api.post(sql_url(project), json={"query": query, **extra})


async def test_seed_shape(api: httpx.AsyncClient, shared_project: dict[str, Any]) -> None:
    response = await run(api, shared_project, "SELECT 1 AS id, 'Alice' AS name")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["id", "name"]
    assert body["rows"] == [{"id": 1, "name": "Alice"}]
    assert isinstance(body["duration"], int | float)
    assert body["row_count"] == 1
    assert body["command"] == "SELECT"
    assert body["fields"] == [{"name": "id", "type": "int4"}, {"name": "name", "type": "text"}]


async def test_script_split_as_postgres_would(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    script = """
        CREATE TEMP TABLE notes (id int, body text);  -- a comment; with a semicolon
        /* a block comment; */
        INSERT INTO notes VALUES (1, 'semi;colon'), (2, $$dollar;quoted$$), (3, $tag$x;y$tag$);
        ;;
        SELECT body FROM notes ORDER BY id
    """
    response = await run(api, shared_project, script)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["command"] for r in body["results"]] == ["CREATE TABLE", "INSERT", "SELECT"]
    assert body["results"][1]["row_count"] == 3
    assert body["rows"] == [{"body": "semi;colon"}, {"body": "dollar;quoted"}, {"body": "x;y"}]


async def test_error_midway_stops_and_reports(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    script = (
        "CREATE TABLE midway (id int); INSERT INTO midway VALUES (1); "
        "SELECT * FROM no_such_table; INSERT INTO midway VALUES (2)"
    )
    response = await run(api, shared_project, script)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "sql_error"
    assert error["message"] == 'relation "no_such_table" does not exist'
    assert error["details"]["statement_index"] == 2
    assert error["details"]["sqlstate"] == "42P01"
    assert [r["command"] for r in error["details"]["results"]] == ["CREATE TABLE", "INSERT"]
    assert await fetchval(shared_project["connection_string"], "SELECT count(*) FROM midway") == 1
    await run(api, shared_project, "DROP TABLE midway")


async def test_a_typo_is_an_error_not_skipped(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    response = await run(api, shared_project, "SELECT 1; selec 2; SELECT 3")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["statement_index"] == 1


async def test_params(api: httpx.AsyncClient, shared_project: dict[str, Any]) -> None:
    response = await run(api, shared_project, "SELECT $1::int + $2::int AS sum", params=[2, 3])
    assert response.json()["rows"] == [{"sum": 5}]
    hostile = "'; DROP TABLE x; --"
    echoed = await run(api, shared_project, "SELECT $1::text AS v", params=[hostile])
    assert echoed.json()["rows"] == [{"v": hostile}]
    refused = await run(api, shared_project, "SELECT $1; SELECT 2", params=[1])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_request"


async def test_value_encoding(api: httpx.AsyncClient, shared_project: dict[str, Any]) -> None:
    query = """SELECT 42 AS i, 9007199254740993::int8 AS big, 1.5::float8 AS f,
        'NaN'::float8 AS nan, true AS b, NULL::int AS n, ARRAY[1,2,NULL] AS arr,
        ARRAY['a','b'] AS texts, '{"a": [1, {"b": null}]}'::jsonb AS jb, '[1,2]'::json AS js,
        1.50::numeric AS num, timestamptz '2026-01-02 03:04:05.123+00' AS ts,
        date '2026-01-02' AS d, interval '1 day 02:03:04' AS iv,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '\\xdeadbeef'::bytea AS bin,
        '10.0.0.0/8'::cidr AS net, int4range(1, 5) AS r, 'x'::char(3) AS padded"""
    response = await run(api, shared_project, query)
    assert response.status_code == 200, response.text
    row = response.json()["rows"][0]
    assert row == {
        "i": 42,
        "big": 9007199254740993,
        "f": 1.5,
        "nan": "NaN",
        "b": True,
        "n": None,
        "arr": [1, 2, None],
        "texts": ["a", "b"],
        "jb": {"a": [1, {"b": None}]},
        "js": [1, 2],
        "num": "1.50",
        "ts": "2026-01-02 03:04:05.123+00",
        "d": "2026-01-02",
        "iv": "1 day 02:03:04",
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "bin": "\\xdeadbeef",
        "net": "10.0.0.0/8",
        "r": "[1,5)",
        "padded": "x  ",
    }
    types = {f["name"]: f["type"] for f in response.json()["fields"]}
    assert types["ts"] == "timestamptz"
    assert types["arr"] == "int4[]"


async def test_statement_timeout(api: httpx.AsyncClient, shared_project: dict[str, Any]) -> None:
    response = await run(api, shared_project, "SELECT pg_sleep(5)", statement_timeout_ms=200)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["sqlstate"] == "57014"
    assert (await run(api, shared_project, "SHOW statement_timeout")).json()["rows"] == [
        {"statement_timeout": "30s"}
    ]
    too_long = await run(api, shared_project, "SELECT 1", statement_timeout_ms=300_001)
    assert too_long.status_code == 400


async def test_large_results_are_truncated(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    many = await run(api, shared_project, "SELECT g FROM generate_series(1, 20000) g")
    body = many.json()
    assert body["truncated"] is True
    assert body["row_count"] == 10000
    assert body["rows"][-1] == {"g": 10000}
    wide = await run(api, shared_project, "SELECT repeat('x', 100000) FROM generate_series(1, 500)")
    assert wide.json()["truncated"] is True
    assert len(wide.content) < 11 * 1024 * 1024


async def test_session_state_does_not_leak_between_requests(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    await run(
        api, shared_project, "BEGIN; SET search_path TO nowhere; CREATE TEMP TABLE t1 (x int)"
    )
    response = await run(api, shared_project, "SHOW search_path")
    assert response.json()["rows"] == [{"search_path": '"$user", public'}]


async def test_sql_wakes_a_suspended_endpoint(api: httpx.AsyncClient, api_project) -> None:
    endpoint = f"/v1/projects/{api_project['id']}/endpoints/{api_project['endpoint_id']}"
    await api.post(f"{endpoint}/suspend")
    response = await run(api, api_project, "SELECT 'awake' AS state")
    assert response.json()["rows"] == [{"state": "awake"}]
    assert (await api.get(endpoint)).json()["status"] == "running"


@pytest.mark.parametrize("query", ["", "   ", "-- only a comment", "SELECT 'unterminated"])
async def test_empty_or_unreadable_scripts_are_400(
    api: httpx.AsyncClient, shared_project: dict[str, Any], query: str
) -> None:
    assert (await run(api, shared_project, query)).status_code == 400


async def test_unknown_database_is_404(
    api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    response = await run(api, shared_project, "SELECT 1", database="nope")
    assert response.status_code == 404
