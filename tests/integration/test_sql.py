"""The SQL API on a real compute: scripts, values, errors, limits, wake-up."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lampion.runtime import Runtime
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


def psql_binary(app: FastAPI, project: dict[str, Any]) -> str:
    runtime: Runtime = app.state.runtime
    return str(runtime.install_for(project["pg_version"]).tool("psql"))


async def psql_row(app: FastAPI, project: dict[str, Any], query: str) -> list[str]:
    """The one row psql -A -t prints for a query, split into its fields."""
    dsn = project["connection_string"].replace("sslmode=require", "sslmode=disable")
    command = [psql_binary(app, project), "-X", "-A", "-t", "-F", "\x1f", "-c", query, dsn]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout.removesuffix("\n").split("\x1f")


def same_as_psql(value: Any, printed: str) -> bool:
    """A text value is exactly what psql prints; a number is the same number; null is empty."""
    if value is None:
        return printed == ""
    if isinstance(value, str):
        return value == printed
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and value == float(printed)
    )


async def assert_values_match_psql(
    api: httpx.AsyncClient, app: FastAPI, project: dict[str, Any], expressions: list[str]
) -> list[Any]:
    query = "SELECT " + ", ".join(f"{e} AS c{i}" for i, e in enumerate(expressions))
    response = await run(api, project, query)
    assert response.status_code == 200, response.text
    [values] = response.json()["rows"]
    row = [values[f"c{i}"] for i in range(len(expressions))]
    printed = await psql_row(app, project, query)
    assert len(row) == len(printed) == len(expressions)
    for expression, value, text in zip(expressions, row, printed, strict=True):
        assert same_as_psql(value, text), (expression, value, text)
    return list(row)


RANGES = [
    "daterange('2024-01-01', '2024-02-01')",
    "daterange('2024-01-01', '2024-01-31', '[]')",
    "'[2024-01-01,infinity)'::daterange",
    "'(,2024-01-01)'::daterange",
    "'empty'::daterange",
    "tsrange('2024-01-01 10:00', '2024-01-02')",
    "tsrange(NULL, '-infinity')",
    "tstzrange('2024-01-01 10:00+02', NULL)",
    "'empty'::tstzrange",
    "numrange(1.50, 2.0)",
    "numrange(NULL, 'Infinity')",
    "'empty'::numrange",
    "int4range(1, 5)",
    "int4range(1, 2, '[]')",
    "int8range(5, NULL)",
    "'empty'::int8range",
    "'{[2024-01-01,2024-02-01), [2025-01-01,)}'::datemultirange",
    "'{}'::datemultirange",
    "'{[2024-01-01 00:00,2024-01-02)}'::tsmultirange",
    "'{[2024-01-01 00:00+00,)}'::tstzmultirange",
    "'{[1.5,2), [3,4.25]}'::nummultirange",
    "'{[1,3), [5,7)}'::int4multirange",
    "'{(,10)}'::int8multirange",
]


async def test_ranges_and_multiranges_are_psql_text(
    api: httpx.AsyncClient, shared_project: dict[str, Any], app: FastAPI
) -> None:
    row = await assert_values_match_psql(api, app, shared_project, RANGES)
    assert row[0] == "[2024-01-01,2024-02-01)"
    assert row[21] == "{[1,3),[5,7)}"


async def test_values_read_as_text_are_psql_text(
    api: httpx.AsyncClient, shared_project: dict[str, Any], app: FastAPI
) -> None:
    """Composite values (their fields too), the catalogs' one-byte "char", tid, snapshots."""
    await assert_values_match_psql(
        api,
        app,
        shared_project,
        [
            "ROW(1, 'a b', 1.50::numeric, date '2024-01-01', NULL, int4range(1, 2))",
            "(SELECT c FROM pg_class c WHERE relname = 'pg_am')",
            "(SELECT relkind FROM pg_class WHERE relname = 'pg_class')",
            "'(0,1)'::tid",
            "'10:20:10,14,15'::pg_snapshot",
            "'10:20:10,14,15'::txid_snapshot",
            "1.50::numeric",
            "timestamptz '2026-01-02 03:04:05.123+00'",
            "'2024-01-01 BC'::date",
            "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
            "'\\xdeadbeef'::bytea",
            "'$.a'::jsonpath",
            "'1 day 02:03:04'::interval",
            "'x'::char(3)",
        ],
    )


async def test_float4_is_as_short_as_psql_prints_it(
    api: httpx.AsyncClient, shared_project: dict[str, Any], app: FastAPI
) -> None:
    expressions = ["1.1::real", "0.1::float4", "3.4028235e38::real", "1e-05::real", "-2.5::real"]
    row = await assert_values_match_psql(api, app, shared_project, [*expressions, "100000::real"])
    printed = await psql_row(app, shared_project, "SELECT " + ", ".join(expressions))
    assert [json.dumps(value) for value in row[: len(expressions)]] == printed
    specials = await run(
        api,
        shared_project,
        "SELECT 'NaN'::real AS nan, '-Infinity'::float4 AS minf, ARRAY[1.1::real, 2.2] AS arr",
    )
    assert specials.json()["rows"] == [{"nan": "NaN", "minf": "-Infinity", "arr": [1.1, 2.2]}]


async def test_columns_of_the_same_name_keep_every_value(
    api: httpx.AsyncClient, shared_project: dict[str, Any], app: FastAPI
) -> None:
    query = "SELECT 1 AS a, 2 AS a, 3 AS a_1, 4 AS a, 5 AS b"
    printed = await psql_row(app, shared_project, query)
    response = await run(api, shared_project, query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["a", "a_2", "a_1", "a_3", "b"]
    assert body["rows"] == [{"a": 1, "a_2": 2, "a_1": 3, "a_3": 4, "b": 5}]
    assert [f["name"] for f in body["fields"]] == ["a", "a", "a_1", "a", "b"]
    assert [str(body["rows"][0][key]) for key in body["columns"]] == printed
    positional = (await run(api, shared_project, query, row_mode="array")).json()
    assert positional["rows"] == [[1, 2, 3, 4, 5]]
    assert positional["columns"] == body["columns"]
    script = await run(api, shared_project, "SELECT 1 AS x, 2 AS x; SELECT 3", row_mode="array")
    assert [r["rows"] for r in script.json()["results"]] == [[[1, 2]], [[3]]]
    refused = await run(api, shared_project, "SELECT 1", row_mode="table")
    assert refused.status_code == 400
