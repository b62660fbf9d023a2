"""Signing in and out of the console, with a key or a one-time link; what the session
protects (CSRF, security headers)."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import lampion
from tests.e2e.console.conftest import ConsoleServer
from tests.support.browser import screenshot, sign_in

LINK_KEY = "console sign-in link"


def test_sign_in_with_a_key_then_sign_out(
    anonymous_page: Page, console_server: ConsoleServer
) -> None:
    page = anonymous_page
    page.goto("/console/projects")
    expect(page).to_have_url(f"{console_server.url}/console/sign-in?next=/console/projects")
    screenshot(page, "sign-in")

    page.fill("#api_key", "lmp_live_" + "x" * 32)
    page.click("button[type=submit]")
    expect(page.locator(".error-box")).to_contain_text("Invalid")

    sign_in(page, console_server.admin_key)
    expect(page.locator("header .org")).to_have_text("console-org")
    cookie = next(c for c in page.context.cookies() if c["name"] == "lampion_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"

    page.click("text=Sign out")
    expect(page).to_have_url(f"{console_server.url}/console/sign-in")
    page.goto("/console/projects")  # the session is gone, not just the cookie
    expect(page).to_have_url(f"{console_server.url}/console/sign-in?next=/console/projects")


def test_a_one_time_link_signs_in_once(anonymous_page: Page, console_server: ConsoleServer) -> None:
    made = lampion(console_server.env, "console-link", "--org", "console-org")
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith(f"{console_server.url}/console/link#")

    page = anonymous_page
    page.goto(link)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{console_server.url}/console/projects")
    expect(page.locator("header .permission")).to_have_text("admin")
    page.click("text=Sign out")
    with console_server.api() as api:
        keys = api.get("/v1/api_keys").json()
    assert LINK_KEY not in [k["name"] for k in keys]  # revoked with the session it made

    page.context.clear_cookies()
    page.goto(link)
    page.click("button[type=submit]")
    expect(page.locator(".error-box")).to_contain_text("used or expired")
    token = link.rsplit("#", 1)[1]
    assert token not in console_server.log_path.read_text()  # a fragment is never sent

    sign_in(page, console_server.admin_key)
    page.click("text=Sign out")  # a key signed in with is the user's: it stays
    with console_server.api() as api:
        assert api.get("/v1/api_keys").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(
    page: Page, console_server: ConsoleServer
) -> None:
    """The browser's own session cookie is sent, but a forged form has no token."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=console_server.url, cookies=cookies) as browserish:
        forged = browserish.post("/console/sign-out", data={})
        assert forged.status_code == 403
        cross_site = browserish.post(
            "/console/sign-out", data={}, headers={"Origin": "https://evil.example"}
        )
        assert cross_site.status_code == 403
    page.goto("/console/projects")  # still signed in: neither request did anything
    expect(page.locator("header .org")).to_have_text("console-org")


def test_console_pages_carry_security_headers(console_server: ConsoleServer) -> None:
    answer = httpx.get(f"{console_server.url}/console/sign-in")
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"


def test_an_unknown_console_page_says_so(page: Page) -> None:
    answer = page.goto("/console/no-such-page")
    assert answer is not None
    assert answer.status == 404
    expect(page.locator(".error-box")).to_contain_text("no such page")
