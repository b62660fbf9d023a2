"""One `lampion serve` and one chromium for every console test; each test gets a fresh
browser context (its own cookies) signed in as the org's admin key. A project made once
(`console_project`) is shared by the tests that only read or add to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import environment, new_key, serving
from tests.support.browser import launch, new_page, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@dataclass(frozen=True)
class ConsoleServer:
    url: str
    env: dict[str, str]
    admin_key: str
    read_only_key: str
    log_path: Path

    def api(self, key: str | None = None) -> httpx.Client:
        """The public API as a key of the org (the admin key by default)."""
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


@pytest.fixture(scope="package")
def console_server(workdir: Path, templates_dir: Path) -> Iterator[ConsoleServer]:
    env = environment(
        workdir / "console", templates_dir, rate_limit_enabled="false", metrics_interval="2",
        webhook_allow_private="true",
    )  # fmt: skip
    log_path = workdir / "console-server.log"
    with serving(env, log_path):
        yield ConsoleServer(
            url=f"http://127.0.0.1:{env['LAMPION_API_PORT']}",
            env=env,
            admin_key=new_key(env, "console-org", "--plan", "pro"),
            read_only_key=new_key(env, "console-org", "--permission", "read_only"),
            log_path=log_path,
        )


@pytest.fixture(scope="package")
def console_project(console_server: ConsoleServer) -> dict[str, str]:
    """A running project of the console's org: {"id", "name", "branch_id", "endpoint_id",
    "connection_string"}."""
    with console_server.api() as api:
        created = api.post("/v1/projects", json={"name": "console-demo"})
        assert created.status_code == 201, created.text
        body = created.json()
    return {
        key: body[key] for key in ("id", "name", "branch_id", "endpoint_id", "connection_string")
    }


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    """A fresh browser context signed in as the admin key."""
    context, opened = new_page(browser, console_server.url)
    sign_in(opened, console_server.admin_key)
    yield opened
    context.close()


@pytest.fixture
def anonymous_page(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    context, opened = new_page(browser, console_server.url)
    yield opened
    context.close()
