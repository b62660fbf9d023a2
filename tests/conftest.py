"""Shared test harness.

Every test that needs the API runs once per metadata store (SQLite, then PostgreSQL), on
real computes. Templates are built once per session and shared by every app.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lampion.config import Settings
from lampion.runtime import Runtime
from tests.support.apps import (
    client_for,
    free_port,
    kill_computes_under,
    make_settings,
    new_store_url,
    running_app,
)
from tests.support.metadata_pg import MetadataServer
from tests.support.orgs import make_key
from tests.support.xfs import XfsUnavailable, xfs_mount

STORE_KINDS = ("sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        default=",".join(STORE_KINDS),
        help="metadata stores to run the API tests against (comma-separated)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames:
        kinds = [k for k in metafunc.config.getoption("--store").split(",") if k]
        metafunc.parametrize("store_kind", kinds, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Branching tests run on copy with both stores and on reflink with PostgreSQL: every
    store and every driver, without the fourth combination (reflink on SQLite) that
    tests nothing the other three do not."""
    stores = {k for k in config.getoption("--store").split(",") if k}
    if stores != set(STORE_KINDS):
        return
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        combo = params.params if params is not None else {}
        if combo.get("branching_app") == "xfs-reflink" and combo.get("store_kind") == "sqlite":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """Under /tmp with mode 0755: the computes' OS user must reach it."""
    root = Path(tempfile.mkdtemp(prefix="lampion-test-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    kill_computes_under(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def templates_dir(workdir: Path) -> Path:
    return workdir / "templates"


@pytest.fixture(scope="session")
async def metadata_pg(workdir: Path, templates_dir: Path) -> AsyncIterator[MetadataServer]:
    server = MetadataServer(workdir / "metadata-pg", templates_dir, free_port())
    yield server
    await server.close()


@pytest.fixture(scope="session")
async def store_url(store_kind: str, workdir: Path, metadata_pg: MetadataServer) -> str:
    return await new_store_url(store_kind, workdir, metadata_pg)


@pytest.fixture(scope="session")
def settings(store_kind: str, store_url: str, workdir: Path, templates_dir: Path) -> Settings:
    return make_settings(workdir / f"data-{store_kind}", templates_dir, database_url=store_url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as application:
        yield application
    kill_computes_under(settings.data_dir)


@pytest.fixture(scope="session")
def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


@pytest.fixture(scope="session")
async def admin_key(runtime: Runtime) -> str:
    return await make_key(runtime.sessions, "org-a", "admin")


@pytest.fixture(scope="session")
async def other_org_key(runtime: Runtime) -> str:
    return await make_key(runtime.sessions, "org-b", "admin")


@pytest.fixture
async def api(app: FastAPI, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, admin_key) as client:
        yield client


@pytest.fixture
async def other_api(app: FastAPI, other_org_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, other_org_key) as client:
        yield client


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


@pytest.fixture(scope="session")
async def shared_project(app: FastAPI, admin_key: str) -> AsyncIterator[dict[str, object]]:
    """One project for tests that only read from or add to it, to keep the suite fast."""
    async with client_for(app, admin_key) as client:
        response = await client.post("/v1/projects", json={"name": "shared"})
        assert response.status_code == 201, response.text
        project: dict[str, object] = response.json()
        yield project
        await client.delete(f"/v1/projects/{project['id']}")


@pytest.fixture(scope="session")
def xfs_root(workdir: Path) -> Iterator[Path]:
    """A loop-mounted XFS (reflink=1) for the whole session, or a skip that says why not."""
    with contextlib.ExitStack() as stack:
        try:
            root = stack.enter_context(xfs_mount(workdir))
        except XfsUnavailable as exc:
            pytest.skip(f"reflink tests need an XFS mount: {exc}")
        yield root
        kill_computes_under(root)


@pytest.fixture(scope="session")
async def xfs_app(
    xfs_root: Path, store_kind: str, workdir: Path, metadata_pg: MetadataServer
) -> AsyncIterator[FastAPI]:
    """The same control plane with its data on XFS; `auto` must pick the reflink driver."""
    settings = make_settings(
        xfs_root / f"data-{store_kind}",
        xfs_root / "templates",
        database_url=await new_store_url(store_kind, workdir, metadata_pg),
    )
    async with running_app(settings) as application:
        assert application.state.runtime.storage.name == "reflink"
        yield application
    kill_computes_under(settings.data_dir)


@pytest.fixture(scope="session", params=["default-fs", "xfs-reflink"])
def branching_app(request: pytest.FixtureRequest, store_kind: str) -> FastAPI:
    """Branching tests run on the default filesystem (copy) and on XFS (reflink)."""
    fixture = "app" if request.param == "default-fs" else "xfs_app"
    application: FastAPI = request.getfixturevalue(fixture)
    return application


@pytest.fixture(scope="session")
async def branching_key(branching_app: FastAPI) -> str:
    return await make_key(branching_app.state.runtime.sessions, "org-branching", "admin")


@pytest.fixture
async def branching_client(
    branching_app: FastAPI, branching_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(branching_app, branching_key) as client:
        yield client


@pytest.fixture
async def api_project(api: httpx.AsyncClient) -> AsyncIterator[dict[str, object]]:
    """A project of the test's own (it may suspend it, fill it, break it)."""
    response = await api.post("/v1/projects", json={"name": "own"})
    assert response.status_code == 201, response.text
    project: dict[str, object] = response.json()
    yield project
    await api.delete(f"/v1/projects/{project['id']}")
