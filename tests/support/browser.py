"""Driving the console in a real browser: Debian's chromium through Playwright (never a
downloaded browser), signed in as a given key, with screenshots under test-artifacts/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Debian's chromium (`.ci/run` installs it); LAMPION_TEST_CHROMIUM names another."""
    configured = os.environ.get("LAMPION_TEST_CHROMIUM")
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    return found


def launch(playwright: Playwright) -> Browser:
    # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
    return playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])


def new_page(
    browser: Browser, base_url: str, *, phone: bool = False
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        base_url=base_url, viewport=PHONE if phone else LAPTOP, permissions=[]
    )
    context.set_default_timeout(30_000)
    return context, context.new_page()


def sign_in(page: Page, api_key: str) -> None:
    page.goto("/console/sign-in")
    page.fill("#api_key", api_key)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/projects")


def screenshot(page: Page, name: str) -> Path:
    """The page as a user sees it, kept under test-artifacts/ (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
