"""Metrics, usage, plans and cost, checked against ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from lampion import clock
from lampion.runtime import Runtime
from lampion.store.models import MetricsSnapshot, RunningInterval, StorageSample, TransferRecord
from lampion.workers.sampler import Sampler
from tests.support.apps import client_for
from tests.support.orgs import make_key
from tests.support.pg import direct_dsn, fetchval

pytestmark = pytest.mark.compute


@contextmanager
def frozen_at(moment: datetime) -> Iterator[list[datetime]]:
    """The control plane's clock stands at ``moment`` until the test moves it."""
    now = [moment]
    previous = clock.set_source(lambda: now[0])
    try:
        yield now
    finally:
        clock.set_source(previous)


async def test_plans_are_listed_with_limits(api: httpx.AsyncClient) -> None:
    listed = (await api.get("/v1/plans")).json()
    assert [p["name"] for p in listed] == ["free", "dev", "pro"]
    free, dev, pro = listed
    assert free["max_projects"] == 3
    assert free["cu_hour_usd"] == 0
    assert dev["cu_hour_usd"] == pro["cu_hour_usd"] == 0.106
    assert (free["api_requests_per_hour"], free["api_burst"]) == (1000, 50)
    assert {
        "max_branches_per_project",
        "max_compute_units",
        "storage_gb_month_usd",
        "transfer_gb_usd",
    } <= set(free)


async def test_free_plan_limits(app: FastAPI) -> None:
    key = await make_key(app.state.runtime.sessions, "org-free-limits", plan="free")
    async with client_for(app, key) as client:
        created = [
            (await client.post("/v1/projects", json={"name": f"p{i}"})).json() for i in range(3)
        ]
        fourth = await client.post("/v1/projects", json={"name": "p3"})
        assert fourth.status_code == 403
        assert fourth.json()["error"]["code"] == "forbidden"
        assert fourth.json()["error"]["details"]["code"] == "plan_limit_exceeded"
        assert len((await client.get("/v1/projects")).json()) == 3
        endpoint = f"/v1/projects/{created[0]['id']}/endpoints/{created[0]['endpoint_id']}"
        too_big = await client.patch(endpoint, json={"compute_units": 2})
        assert too_big.status_code == 403
        assert too_big.json()["error"]["details"]["limit"] == "max_compute_units"
        assert (await client.get(endpoint)).json()["compute_units"] == 1
        for project in created:
            await client.delete(f"/v1/projects/{project['id']}")


async def test_live_metrics_match_the_compute(
    api: httpx.AsyncClient, api_project: dict[str, Any]
) -> None:
    dsn = api_project["connection_string"]
    await fetchval(
        dsn, "CREATE TABLE t AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 50000) g"
    )
    for _ in range(3):
        await fetchval(dsn, "SELECT count(*) FROM t")
    metrics = (await api.get(f"/v1/projects/{api_project['id']}/metrics")).json()
    direct = direct_dsn(api_project["pg_password"], api_project["pg_port"])
    hit = float(await fetchval(direct, "SELECT sum(blks_hit) FROM pg_stat_database"))
    read = float(await fetchval(direct, "SELECT sum(blks_read) FROM pg_stat_database"))
    size = await fetchval(
        direct, "SELECT sum(pg_database_size(oid)) FROM pg_database WHERE datallowconn"
    )
    assert metrics["status"] == "running"
    assert metrics["endpoint_id"] == api_project["endpoint_id"]
    assert abs(metrics["cache_hit_ratio"] - 100 * hit / (hit + read)) < 1.0
    assert abs(metrics["storage_logical_mb"] - float(size) / 1e6) < 0.5
    assert metrics["compute_cpu_seconds"] > 0
    assert metrics["memory_mb"] > 10
    assert metrics["connections_total"] == 0  # the control plane's own sessions do not count


async def test_metrics_of_a_suspended_compute_do_not_wake_it(
    api: httpx.AsyncClient, api_project: dict[str, Any], app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    assert await Sampler(runtime).run_once() >= 1
    endpoint = f"/v1/projects/{api_project['id']}/endpoints/{api_project['endpoint_id']}"
    await api.post(f"{endpoint}/suspend")
    metrics = (await api.get(f"/v1/projects/{api_project['id']}/metrics")).json()
    assert metrics["status"] == "suspended"
    assert metrics["storage_logical_mb"] > 1
    assert metrics["sampled_at"] is not None
    assert (await api.get(endpoint)).json()["status"] == "suspended"
    assert api_project["endpoint_id"] not in await runtime.compute.running_endpoints()


async def test_history_keeps_24_hours(
    api: httpx.AsyncClient, api_project: dict[str, Any], app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    url = f"/v1/projects/{api_project['id']}/metrics/history"
    async with runtime.sessions() as session, session.begin():
        for hours_ago in (30, 5):
            session.add(
                MetricsSnapshot(
                    endpoint_id=api_project["endpoint_id"],
                    project_id=api_project["id"],
                    snapshot_at=datetime.now(UTC) - timedelta(hours=hours_ago),
                    connections_total=1,
                    connections_active=0,
                    cache_hit_ratio=50,
                    storage_logical_mb=1,
                    compute_cpu_seconds=1,
                    memory_mb=1,
                )
            )
    await Sampler(runtime).run_once()
    six = (await api.get(url, params={"hours": 6})).json()
    assert len(six) == 2
    assert six[0]["snapshot_at"] < six[1]["snapshot_at"]
    assert {
        "snapshot_at",
        "connections_total",
        "storage_logical_mb",
        "cache_hit_ratio",
        "compute_cpu_seconds",
        "memory_mb",
    } <= set(six[0])
    assert len((await api.get(url, params={"hours": 24})).json()) == 2  # 30 h old: pruned
    async with runtime.sessions() as session:
        oldest = await session.scalar(
            select(MetricsSnapshot.snapshot_at)
            .where(MetricsSnapshot.endpoint_id == api_project["endpoint_id"])
            .order_by(MetricsSnapshot.snapshot_at)
        )
    assert oldest is not None
    assert oldest > datetime.now(UTC) - timedelta(hours=25)
    for hours in (0, 25, -1):
        assert (await api.get(url, params={"hours": hours})).status_code == 400


async def test_compute_hours_follow_suspend_and_resume(app: FastAPI) -> None:
    key = await make_key(app.state.runtime.sessions, "org-clocked", plan="dev")
    async with client_for(app, key) as client:
        with frozen_at(datetime(2030, 5, 10, 12, 0, tzinfo=UTC)) as now:
            project = (await client.post("/v1/projects", json={"name": "metered"})).json()
            endpoint = f"/v1/projects/{project['id']}/endpoints/{project['endpoint_id']}"
            now[0] += timedelta(hours=2)
            await client.post(f"{endpoint}/suspend")
            now[0] += timedelta(hours=5)  # suspended: costs no compute
            await client.post(f"{endpoint}/resume")
            await client.patch(endpoint, json={"compute_units": 2})
            now[0] += timedelta(hours=1)
            await client.post(f"{endpoint}/suspend")
            usage = (await client.get(f"/v1/projects/{project['id']}/usage")).json()
            assert usage["period"] == "2030-05"
            assert usage["compute_hours"] == pytest.approx(2 * 1 + 1 * 2, abs=0.01)
            org = (await client.get("/v1/usage")).json()
            assert org["plan"]["name"] == "dev"
            assert org["total"]["compute_hours"] == pytest.approx(4, abs=0.01)
            assert org["estimated_cost"]["compute_usd"] == pytest.approx(4 * 0.106, abs=0.001)
            assert [p["id"] for p in org["projects"]] == [project["id"]]
            await client.delete(f"/v1/projects/{project['id']}")


async def test_month_boundary_split_and_transfer_and_storage(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    key = await make_key(runtime.sessions, "org-months", plan="dev")
    async with client_for(app, key) as client:
        project = (await client.post("/v1/projects", json={"name": "months"})).json()
    org_id = await _org_id(runtime, project["id"])
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            delete(RunningInterval).where(RunningInterval.project_id == project["id"])
        )
        session.add(
            RunningInterval(  # 30 Jan 20:00 → 1 Feb 04:00, 0.5 CU
                org_id=org_id,
                project_id=project["id"],
                endpoint_id=project["endpoint_id"],
                compute_units=0.5,
                started_at=datetime(2031, 1, 31, 20, tzinfo=UTC),
                ended_at=datetime(2031, 2, 1, 4, tzinfo=UTC),
            )
        )
        session.add(
            TransferRecord(
                org_id=org_id,
                project_id=project["id"],
                endpoint_id=project["endpoint_id"],
                bytes_in=500_000_000,
                bytes_out=1_500_000_000,
                recorded_at=datetime(2031, 2, 3, tzinfo=UTC),
            )
        )
        for day, size in ((1, 1_000_000_000), (15, 3_000_000_000)):  # 1 GB half, 3 GB half
            session.add(
                StorageSample(
                    org_id=org_id,
                    project_id=project["id"],
                    endpoint_id=project["endpoint_id"],
                    sampled_at=datetime(2031, 2, day, tzinfo=UTC),
                    storage_bytes=size,
                )
            )
    async with client_for(app, key) as client:
        with frozen_at(datetime(2031, 3, 5, tzinfo=UTC)):
            january = (
                await client.get(
                    f"/v1/projects/{project['id']}/usage", params={"period": "2031-01"}
                )
            ).json()
            february = (
                await client.get(
                    f"/v1/projects/{project['id']}/usage", params={"period": "2031-02"}
                )
            ).json()
            org = (await client.get("/v1/usage", params={"period": "2031-02"})).json()
        assert january["compute_hours"] == pytest.approx(4 * 0.5)
        assert february["compute_hours"] == pytest.approx(4 * 0.5)
        assert february["transfer_total_gb"] == pytest.approx(2.0)
        assert february["storage_gb"] == pytest.approx((1 * 14 + 3 * 14) / 28, rel=1e-3)
        cost = org["estimated_cost"]
        assert cost["compute_usd"] == pytest.approx(2 * 0.106, abs=1e-4)
        assert cost["transfer_usd"] == pytest.approx(2 * 0.09, abs=1e-4)
        assert cost["storage_usd"] == pytest.approx(2 * 0.35, abs=1e-3)
        assert cost["total_usd"] == pytest.approx(0.212 + 0.18 + 0.7, abs=0.01)
        bad = await client.get(f"/v1/projects/{project['id']}/usage", params={"period": "2031-13"})
        assert bad.status_code == 400
        await client.delete(f"/v1/projects/{project['id']}")


async def _org_id(runtime: Runtime, project_id: str) -> str:
    from lampion.store.models import Project

    async with runtime.sessions() as session:
        project = await session.get(Project, project_id)
        assert project is not None
        return project.org_id


async def test_prometheus_metrics(
    api: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    shared_project: dict[str, Any],
    app: FastAPI,
) -> None:
    assert (await anonymous.get("/metrics")).status_code == 401
    await Sampler(app.state.runtime).run_once()
    text = (await api.get("/metrics")).text
    assert 'lampion_http_requests_total{method="GET",route="/v1/projects",status="200"}' in text
    assert "lampion_http_request_duration_seconds_bucket" in text
    assert 'lampion_computes{status="running"}' in text
    assert f'lampion_endpoint_storage_bytes{{endpoint_id="{shared_project["endpoint_id"]}"' in text
    assert "lampion_wakeup_duration_seconds" in text
    assert "lampion_webhook_deliveries" in text
