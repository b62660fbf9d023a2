"""Settings in a real browser: an API key shown exactly once and working against /v1; a webhook
whose "send test" reaches a real receiver and shows in its deliveries; what a read-only key
is offered."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.console.conftest import ConsoleServer
from tests.support.browser import new_page, screenshot, sign_in
from tests.support.receiver import Received, Receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    started.start()
    yield started
    started.stop()


def _received(receiver: Receiver, path: str, count: int) -> list[Received]:
    deadline = time.monotonic() + 20
    while len(receiver.at(path)) < count:
        assert time.monotonic() < deadline, f"{len(receiver.at(path))}/{count} at {path}"
        time.sleep(0.1)
    return receiver.at(path)


def test_a_new_api_key_is_shown_once_works_and_can_be_revoked(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto("/console/settings")
    page.fill("#key-name", "browser-ci")
    page.select_option("#key-permission", "developer")
    page.click("#create-key button[type=submit]")
    shown = page.locator("#new-key")
    expect(shown).to_contain_text("lmp_live_")
    key = shown.inner_text().strip()
    row = page.locator("#key-list tbody tr", has_text="browser-ci")
    expect(row).to_contain_text("developer")
    assert key not in row.inner_text()
    expect(page.locator("#new-key-box button[data-copy]")).to_be_visible()
    row.locator("summary", has_text="Revoke").click()  # the new row's confirmation is wired
    expect(row.locator("button.danger")).to_be_disabled()
    row.locator("input[data-confirm]").fill("browser-ci")
    expect(row.locator("button.danger")).to_be_enabled()

    with httpx.Client(base_url=console_server.url) as anyone:
        as_new_key = {"Authorization": f"Bearer {key}"}
        assert anyone.get("/v1/projects", headers=as_new_key).status_code == 200

        page.reload()  # never shown again
        expect(page.locator("#key-list")).to_contain_text("browser-ci")
        expect(page.locator("#new-key")).to_have_count(0)
        assert key not in page.content()

        row = page.locator("#key-list tbody tr", has_text="browser-ci")
        row.locator("summary", has_text="Revoke").focus()  # by keyboard
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        page.keyboard.type("browser-c")
        page.keyboard.press("Tab")
        expect(row.locator("button.danger")).to_be_disabled()
        row.locator("input[data-confirm]").focus()
        page.keyboard.type("i")
        page.keyboard.press("Tab")
        expect(row.locator("button.danger")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#keys .notice")).to_have_text("Key revoked.")
        expect(page.locator("#key-list")).not_to_contain_text("browser-ci")
        assert anyone.get("/v1/projects", headers=as_new_key).status_code == 401


def test_a_webhook_gets_the_test_event_and_lists_its_delivery(
    page: Page, receiver: Receiver
) -> None:
    url = receiver.url("/console-hook")
    page.goto("/console/settings")
    page.fill("#webhook-url", url)
    page.click("#create-webhook button[type=submit]")
    expect(page.locator("#new-webhook-secret")).to_contain_text("whsec_")
    secret = page.locator("#new-webhook-secret").inner_text().strip()
    hook = page.locator("#webhooks li.webhook", has_text=url)
    expect(hook).to_contain_text("enabled")

    hook.get_by_role("button", name="Send test").click()
    expect(hook.locator(".notice")).to_contain_text("Test event sent")
    delivered = hook.locator(".deliveries tbody tr", has_text="webhook.test")
    expect(delivered.locator(".badge")).to_have_text("succeeded")  # the panel polls while pending
    expect(delivered).to_contain_text("HTTP 200")
    received = _received(receiver, "/console-hook", 1)
    assert [r.payload["data"]["url"] for r in received if r.payload["type"] == "webhook.test"] == [
        url
    ]

    delivered.first.get_by_role("button", name="Redeliver").click()
    expect(hook.locator(".notice")).to_contain_text("queued again")
    # queued as a new delivery of the same event (the worker sends it on its next pass)
    expect(hook.locator(".deliveries tbody tr", has_text="webhook.test")).to_have_count(2)
    screenshot(page, "settings")

    page.reload()
    assert secret not in page.content()
    hook = page.locator("#webhooks li.webhook", has_text=url)
    hook.get_by_role("button", name="Disable").click()
    expect(page.locator("#webhooks li.webhook", has_text=url)).to_contain_text("disabled")
    hook = page.locator("#webhooks li.webhook", has_text=url)
    hook.locator("summary", has_text="Delete").click()
    hook.get_by_role("button", name="Delete webhook").click()
    expect(page.locator("#webhooks .notice")).to_have_text("Webhook deleted.")
    expect(page.locator("#webhooks li.webhook", has_text=url)).to_have_count(0)


def test_a_read_only_key_is_offered_no_refused_action(
    browser: Browser, console_server: ConsoleServer, receiver: Receiver
) -> None:
    with console_server.api() as api:
        made = api.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/read-only"), "events": ["*"]}
        )
        assert made.status_code == 201, made.text
    context, page = new_page(browser, console_server.url, phone=True)
    try:
        sign_in(page, console_server.read_only_key)
        page.goto("/console/settings")
        expect(page.locator("#keys-title")).to_be_visible()
        expect(page.locator("text=Only admin keys")).to_be_visible()
        hook = page.locator("#webhooks li.webhook", has_text=receiver.url("/read-only"))
        expect(hook).to_be_visible()
        for refused in ("#create-key", "#create-webhook", "#key-list"):
            expect(page.locator(refused)).to_have_count(0)
        for label in ("Send test", "Disable", "Enable", "Delete…", "Revoke…"):
            expect(page.get_by_text(label, exact=True)).to_have_count(0)
        hook.get_by_role("button", name="Deliveries").click()
        expect(hook.locator(".deliveries")).to_contain_text("Refresh")
        expect(hook.get_by_role("button", name="Redeliver")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
        with console_server.api() as api:
            api.delete(f"/v1/orgs/webhooks/{made.json()['id']}")
