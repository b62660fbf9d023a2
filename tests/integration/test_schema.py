"""Schema browsing and organization isolation of the data-plane routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.compute


async def test_browse_databases_schemas_tables(
    api: httpx.AsyncClient, api_project: dict[str, Any]
) -> None:
    sql = f"/v1/projects/{api_project['id']}/endpoints/{api_project['endpoint_id']}/sql"
    await api.post(
        sql,
        json={
            "query": (
                "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, score numeric(5,2) "
                "DEFAULT 0); CREATE VIEW emails AS SELECT email FROM users; CREATE SCHEMA billing"
            )
        },
    )
    url = f"/v1/projects/{api_project['id']}/schema"
    databases = (await api.get(url)).json()
    assert databases["type"] == "databases"
    assert [d["name"] for d in databases["items"]] == ["postgres"]
    schemas = (await api.get(url, params={"database": "postgres"})).json()
    assert schemas["type"] == "schemas"
    assert [s["name"] for s in schemas["items"]] == ["billing", "public"]
    tables = (await api.get(url, params={"database": "postgres", "schema": "public"})).json()
    assert tables["type"] == "tables"
    by_name = {t["name"]: t for t in tables["items"]}
    assert by_name["users"]["type"] == "table"
    assert by_name["emails"]["type"] == "view"
    assert by_name["users"]["columns"] == [
        {"name": "id", "type": "integer", "nullable": False, "default": None},
        {"name": "email", "type": "text", "nullable": False, "default": None},
        {"name": "score", "type": "numeric(5,2)", "nullable": True, "default": "0"},
    ]
    assert by_name["users"]["indexes"][0]["is_primary"] is True
    missing_db = await api.get(url, params={"database": "nope"})
    missing_schema = await api.get(url, params={"database": "postgres", "schema": "nope"})
    assert missing_db.status_code == missing_schema.status_code == 404
    assert (await api.get(url, params={"schema": "public"})).status_code == 400

    branch = (
        await api.post(f"/v1/projects/{api_project['id']}/branches", json={"name": "b"})
    ).json()
    await api.post(
        f"/v1/projects/{api_project['id']}/endpoints/{branch['compute_id']}/sql",
        json={"query": "CREATE TABLE only_on_branch (x int)"},
    )
    on_branch = await api.get(
        url, params={"database": "postgres", "schema": "public", "branch_id": "b"}
    )
    assert "only_on_branch" in [t["name"] for t in on_branch.json()["items"]]
    on_main = await api.get(url, params={"database": "postgres", "schema": "public"})
    assert "only_on_branch" not in [t["name"] for t in on_main.json()["items"]]


async def test_data_plane_routes_are_404_for_another_org(
    other_api: httpx.AsyncClient, shared_project: dict[str, Any]
) -> None:
    base = f"/v1/projects/{shared_project['id']}/endpoints/{shared_project['endpoint_id']}"
    attempts = [
        other_api.post(f"{base}/sql", json={"query": "SELECT 1"}),
        other_api.get(f"/v1/projects/{shared_project['id']}/schema"),
        other_api.get(f"{base}/databases"),
        other_api.post(f"{base}/databases", json={"name": "steal"}),
        other_api.delete(f"{base}/databases/postgres"),
        other_api.get(f"{base}/roles"),
        other_api.post(f"{base}/roles", json={"name": "steal"}),
        other_api.delete(f"{base}/roles/cloud_admin"),
        other_api.get(f"{base}/extensions"),
        other_api.post(f"{base}/extensions", json={"name": "pgcrypto"}),
        other_api.delete(f"{base}/extensions/plpgsql"),
        other_api.get(f"{base}/logs"),
        other_api.get(f"{base}/dump"),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, (response.request.url, response.text)
