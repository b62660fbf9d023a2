"""Projects and branches in the console: create a project by keyboard and connect with its
copied connection string, the branch tree (a branch at an LSN, rename, pooler, restore to an
LSN), suspend/resume, an API refusal with its request id, typed-confirmation delete, a hostile
name shown as text, and a read-only key's view."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.console.conftest import ConsoleServer
from tests.support.browser import new_page, screenshot, sign_in
from tests.support.pg import psql

XSS_NAME = "<img src=x onerror=alert(1)>"


def _tab_to(page: Page, selector: str) -> None:
    for _ in range(40):
        if page.locator(selector).evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab")


def _wal_position(connection_string: str) -> str:
    shown = psql(connection_string, "select pg_current_wal_lsn()")
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip()


def test_create_a_project_then_connect_with_its_copied_connection_string(
    page: Page, console_server: ConsoleServer
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _tab_to(page, "#project-name")  # by keyboard only
    page.keyboard.type("web-shop")
    page.keyboard.press("Tab")
    expect(page.locator("#project-region")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#project-version")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#create-project button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#creating-project")).to_be_visible()
    row = page.locator("#project-rows tr[data-project-name='web-shop']")
    expect(row.locator(".project-state")).to_have_text("active", timeout=90_000)
    expect(row.locator(".endpoint-status")).to_have_text("running")
    expect(page.locator("#creating-project")).to_be_hidden()
    expect(page.locator("#project-name")).to_have_value("")  # ready for the next one
    screenshot(page, "projects")
    page.reload()
    expect(row.locator(".endpoint-status")).to_have_text("running")

    row.get_by_role("link", name="web-shop").click()
    expect(page.locator("h1")).to_contain_text("web-shop")
    expect(page.locator(".endpoint-status").first).to_have_text("running")
    direct = page.locator(".endpoint code[id^='conn-']").first
    connection_string = direct.get_attribute("data-value")
    assert connection_string
    assert connection_string.startswith("postgresql://")
    password = connection_string.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    expect(direct).not_to_contain_text(password)  # hidden until revealed
    page.locator(".endpoint button[data-reveal^='conn-']").first.click()
    expect(direct).to_have_text(connection_string)

    page.locator(".endpoint button[data-copy^='conn-']").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == connection_string
    connected = psql(copied, "select 1")
    assert connected.returncode == 0, connected.stderr
    assert connected.stdout.strip() == "1"

    project_id = page.url.rstrip("/").rsplit("/", 1)[1]
    with console_server.api() as api:  # frees its compute for the other tests
        assert api.delete(f"/v1/projects/{project_id}").status_code == 204


def test_branch_tree_create_suspend_resume_delete(
    page: Page, browser: Browser, console_server: ConsoleServer, console_project: dict[str, str]
) -> None:
    page.goto(f"/console/projects/{console_project['id']}")
    main = page.locator(f"#branch-{console_project['branch_id']}")
    expect(main.locator(".branch-name").first).to_have_text("main")

    page.fill("#branch-name", "feature-x")
    page.select_option("#branch-parent", console_project["branch_id"])
    page.fill("#branch-lsn", "not-an-lsn")  # the API judges it and says which field
    page.click("#create-branch button[type=submit]")
    refusal = page.locator("#errors .error-box")
    expect(refusal).to_contain_text("parent_lsn")
    expect(refusal.locator(".request-id")).to_have_text(re.compile(r"^req_\w+$"))

    lsn = _wal_position(console_project["connection_string"])
    page.fill("#branch-lsn", lsn)
    page.click("#create-branch button[type=submit]")
    expect(page.locator(".notice")).to_have_text("Branch feature-x created.", timeout=90_000)
    child = main.locator(".tree li.branch[data-branch-name='feature-x']")
    expect(child.locator(".creation-point .parent-name")).to_have_text("main")
    expect(child.locator(".creation-point")).to_contain_text(f"at LSN {lsn.upper()}")
    expect(child.locator(".branch-state")).to_have_text("ready")

    child.locator("summary", has_text="Rename").click()
    child.locator("input[name=name]").fill("feature-y")
    child.get_by_role("button", name="Rename branch").click()
    expect(page.locator(".notice")).to_have_text("Branch renamed to feature-y.")
    child = main.locator(".tree li.branch[data-branch-name='feature-y']")
    expect(child.locator(".branch-name")).to_have_text("feature-y")

    pooler = child.locator(".pooler")
    expect(pooler).to_have_text("pooled connections on (transaction mode)")
    child.locator("summary", has_text="Connection pooler").click()
    child.locator("select[name=pooler_mode]").select_option("session")
    child.get_by_role("button", name="Save pooler").click()
    expect(pooler).to_have_text("pooled connections on (session mode)")
    child.locator("summary", has_text="Connection pooler").click()
    child.locator("input[name=pooler_enabled]").uncheck()
    child.get_by_role("button", name="Save pooler").click()
    expect(pooler).to_have_text("pooled connections off")

    status = child.locator(".endpoint-status")
    expect(status).to_have_text("running", timeout=60_000)
    child.locator("button.suspend").click()
    expect(status).to_have_text("suspended", timeout=30_000)
    child.locator("button.resume").click()
    expect(status).to_have_text("running", timeout=60_000)
    screenshot(page, "project")

    context, phone = new_page(browser, console_server.url, phone=True)
    try:
        sign_in(phone, console_server.admin_key)
        phone.goto(f"/console/projects/{console_project['id']}")
        expect(phone.locator("li.branch[data-branch-name='feature-y']")).to_be_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
        screenshot(phone, "project-phone")
    finally:
        context.close()

    own = child.locator("code[id^='conn-']").get_attribute("data-value") or ""
    assert psql(own, "create table before_restore (id int)").returncode == 0
    own_lsn = _wal_position(own)  # a point of the branch's own history
    child.locator("summary", has_text="Restore").click()
    child.locator("input[name=lsn]").fill(own_lsn)
    child.get_by_role("button", name="Restore branch").click()
    expect(page.locator(".notice")).to_have_text("Branch feature-y restored.", timeout=90_000)

    child.locator("summary", has_text="Delete").click()
    child.get_by_role("button", name="Delete branch").click()
    expect(page.locator(".notice")).to_have_text("Branch deleted.", timeout=60_000)
    expect(page.locator("li.branch[data-branch-name='feature-y']")).to_have_count(0)


def test_a_hostile_name_renders_as_text_and_delete_asks_for_it(
    page: Page, console_server: ConsoleServer
) -> None:
    with console_server.api() as api:
        created = api.post("/v1/projects", json={"name": XSS_NAME})
        assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog))

    page.goto("/console/projects")
    expect(page.locator(f"#project-{project_id} a")).to_have_text(XSS_NAME)
    assert page.locator("img").count() == 0
    page.click(f"#project-{project_id} a")
    expect(page.locator("h1")).to_contain_text(XSS_NAME)
    assert page.locator("img").count() == 0

    delete = page.locator("#delete-project")
    expect(delete).to_be_disabled()
    page.fill("#confirm-name", XSS_NAME[:-1])
    expect(delete).to_be_disabled()
    page.fill("#confirm-name", XSS_NAME)
    delete.click()
    expect(page).to_have_url(f"{console_server.url}/console/projects")
    expect(page.locator(f"#project-{project_id}")).to_have_count(0)
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_a_read_only_key_sees_no_write_controls(
    browser: Browser, console_server: ConsoleServer, console_project: dict[str, str]
) -> None:
    context, page = new_page(browser, console_server.url)
    try:
        sign_in(page, console_server.read_only_key)
        expect(page.locator(f"#project-{console_project['id']}")).to_be_visible()
        expect(page.locator("#create-project")).to_have_count(0)

        page.goto(f"/console/projects/{console_project['id']}")
        expect(page.locator(".endpoint-status").first).to_be_visible()
        expect(page.locator("button[data-reveal]").first).to_be_visible()
        for refused in ("#create-branch", "#delete-project", "button.suspend", "button.resume",
                        ".branch-actions", ".editors", ".rename", ".pooler-editor"):  # fmt: skip
            expect(page.locator(refused)).to_have_count(0)
    finally:
        context.close()
