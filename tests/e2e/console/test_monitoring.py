"""The Monitoring tab (metrics charts from the sampler's history, live status, log tail with
follow) and the Usage & billing page, in a real browser."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.e2e.console.conftest import ConsoleServer
from tests.support.browser import PHONE, screenshot

HAS_POINTS = re.compile(r"^[1-9][0-9]*$")
PAINTED_PIXELS = """canvas => {
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  return painted;
}"""


def _wait_for_snapshots(server: ConsoleServer, project_id: str, count: int) -> None:
    """The sampler (every 2 s here) has written ``count`` snapshots of the project."""
    deadline = time.monotonic() + 30
    with server.api() as api:
        while True:
            history = api.get(f"/v1/projects/{project_id}/metrics/history", params={"hours": 1})
            assert history.status_code == 200, history.text
            if len(history.json()) >= count:
                return
            assert time.monotonic() < deadline, f"{len(history.json())}/{count} snapshots"
            time.sleep(0.5)


def test_monitoring_draws_the_metrics_history_beside_live_status_and_logs(
    page: Page, console_server: ConsoleServer, console_project: dict[str, str]
) -> None:
    _wait_for_snapshots(console_server, console_project["id"], 2)
    page.goto(f"/console/projects/{console_project['id']}/monitoring")
    expect(page.locator(".tabs [aria-current=page]")).to_have_text("Monitoring")

    for chart in ("connections", "cache", "storage", "cpu", "memory"):
        canvas = page.locator(f"canvas#chart-{chart}")
        expect(canvas).to_have_attribute("data-points", HAS_POINTS)
        assert canvas.evaluate(PAINTED_PIXELS) > 500, chart
    expect(page.locator("[data-chart-status]")).to_contain_text("snapshots")
    served = page.request.get(f"/console/projects/{console_project['id']}/metrics.json?hours=1")
    with console_server.api() as api:
        history = api.get(
            f"/v1/projects/{console_project['id']}/metrics/history", params={"hours": 1}
        ).json()
    assert served.json() == history[: len(served.json())]  # what /v1 gives (or more since)

    expect(page.locator("#live-status")).to_have_text("running")
    expect(page.locator("#live dl")).to_contain_text("Cache hit ratio")
    expect(page.locator("#logs .log-tail")).to_contain_text("database system is ready")

    with page.expect_response(lambda r: "/metrics.json?hours=1" in r.url) as charted:
        page.select_option("#hours", "1")
    assert charted.value.status == 200
    expect(page).to_have_url(
        f"{console_server.url}/console/projects/{console_project['id']}/monitoring?hours=1"
    )

    with page.expect_response(lambda r: "/monitoring/logs" in r.url, timeout=10_000):
        page.check("#logs-follow")  # followed: polled every few seconds
    with page.expect_response(lambda r: "/monitoring/logs" in r.url, timeout=10_000):
        pass
    screenshot(page, "monitoring")

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("canvas#chart-memory")).to_have_attribute("data-points", HAS_POINTS)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_usage_page_shows_this_month_per_project_and_the_plan(
    page: Page, console_project: dict[str, str]
) -> None:
    page.goto("/console/usage")
    expect(page.locator("header nav [aria-current=page]")).to_have_text("Usage")
    row = page.locator("#project-usage tbody tr", has_text=console_project["name"])
    expect(row).to_contain_text(console_project["id"])
    expect(page.locator("#plan-name")).to_have_text("pro")
    expect(page.locator("#limits")).to_contain_text("Projects")
    expect(page.locator(".total-cost")).to_contain_text("$")
    expect(page.locator("#plans tr[aria-current=true]")).to_contain_text("pro")
    screenshot(page, "usage")
