"""The SQL editor and the schema browser in a real browser, on the shared console project."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.e2e.console.conftest import ConsoleServer
from tests.support.browser import PHONE, new_page, screenshot, sign_in

SCRIPT = """CREATE TABLE lamp_items (id int PRIMARY KEY, label text);
INSERT INTO lamp_items VALUES (1, NULL), (2, 'NULL'), (3, '');
SELECT id, label, id * 1.5 AS half_again FROM lamp_items ORDER BY id;"""


def test_a_script_runs_and_its_rows_show_types_and_nulls(
    page: Page, console_project: dict[str, str]
) -> None:
    page.goto(f"/console/projects/{console_project['id']}/sql")
    expect(page.locator("#database")).to_have_value("postgres")
    page.fill("#query", SCRIPT)
    page.press("#query", "Control+Enter")

    result = page.locator("#sql-result")
    expect(result.locator(".sql-summary")).to_contain_text("3 statements ran")
    last = result.locator(".sql-statement").last
    expect(last.locator(".sql-count")).to_contain_text("3 rows")
    headers = last.locator("thead th")
    expect(headers).to_have_text(["id int4", "label text", "half_again numeric"])
    cells = last.locator("tbody tr")
    expect(cells.nth(0).locator("td").nth(1).locator("span.null")).to_have_text("NULL")
    expect(cells.nth(1).locator("td").nth(1)).to_have_text("NULL")
    expect(cells.nth(1).locator("td").nth(1).locator("span.null")).to_have_count(0)
    expect(cells.nth(2).locator("td").nth(1)).to_have_text("")
    expect(cells.nth(2).locator("td").nth(2)).to_have_text("4.5")
    screenshot(page, "sql-editor")

    page.fill("#query", "\\dt")
    page.click("#sql-run")
    expect(result.locator(".sql-title")).to_contain_text("List of")
    expect(result.locator("tbody")).to_contain_text("lamp_items")

    page.reload()  # the history is the browser's own
    history = page.locator("#sql-history button")
    expect(history.first).to_contain_text("\\dt")
    expect(history.nth(1)).to_contain_text("CREATE TABLE lamp_items")
    history.nth(1).click()
    expect(page.locator("#query")).to_have_value(SCRIPT)
    expect(page.locator("#query")).to_be_focused()

    page.set_viewport_size(PHONE)  # a wide result scrolls inside its box, not the page
    page.fill("#query", "SELECT repeat('x', 400) AS wide, 1 AS narrow")
    page.click("#sql-run")
    wrap = result.locator(".sql-table-wrap")
    expect(wrap).to_be_visible()
    assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_failing_statement_shows_the_error_and_where(
    page: Page, console_project: dict[str, str]
) -> None:
    page.goto(f"/console/projects/{console_project['id']}/sql")
    page.fill("#query", "SELECT 1;\nSELECT nope_column\n  FROM pg_class;")
    page.click("#sql-run")

    failure = page.locator("#sql-result .sql-error")
    expect(failure.locator(".sql-error-message")).to_have_text(
        'column "nope_column" does not exist'
    )
    expect(failure).to_contain_text("Statement 2, line 1, column 8 (position 8)")
    expect(failure.locator(".sql-failed-statement mark")).to_have_text("n")
    expect(failure).to_contain_text("400 sql_error · SQLSTATE 42703 · request")
    expect(page.locator("#sql-result .sql-summary")).to_contain_text("statement 2 of 2")
    expect(page.locator("#sql-result .sql-statement")).to_have_count(1)  # the one before it


def test_the_schema_browser_shows_columns_and_indexes(
    page: Page, console_server: ConsoleServer, console_project: dict[str, str]
) -> None:
    project, endpoint = console_project["id"], console_project["endpoint_id"]
    with console_server.api() as api:
        made = api.post(
            f"/v1/projects/{project}/endpoints/{endpoint}/sql",
            json={
                "query": "CREATE SCHEMA shop; CREATE TABLE shop.orders (id bigint PRIMARY KEY, "
                "placed date NOT NULL DEFAULT current_date, note text); "
                "CREATE INDEX orders_placed ON shop.orders (placed)"
            },
        )
        assert made.status_code == 200, made.text

    page.goto(f"/console/projects/{project}/schema")
    expect(page.locator("#schema-databases a[aria-current]")).to_contain_text("postgres")
    page.locator("#schema-schemas a", has_text="shop").click()
    page.locator("#schema-tables a", has_text="orders").click()

    detail = page.locator("#schema-table")
    expect(detail.locator("h2")).to_have_text("shop.orders")
    expect(detail.locator(".schema-columns tbody tr")).to_have_count(3)
    placed = detail.locator(".schema-columns tbody tr").nth(1)
    expect(placed.locator("td")).to_have_text(["placed", "date", "no", "CURRENT_DATE"])
    indexes = detail.locator(".schema-indexes tbody")
    expect(indexes).to_contain_text("orders_pkey")
    expect(indexes).to_contain_text("CREATE INDEX orders_placed ON shop.orders USING btree")
    screenshot(page, "schema")


def test_a_read_only_key_browses_but_runs_nothing(
    browser: Browser, console_server: ConsoleServer, console_project: dict[str, str]
) -> None:
    context, page = new_page(browser, console_server.url)
    try:
        sign_in(page, console_server.read_only_key)
        page.goto(f"/console/projects/{console_project['id']}/sql")
        expect(page.locator(".sql-read-only")).to_contain_text("read-only")
        expect(page.locator("#sql-run")).to_have_count(0)
        page.goto(f"/console/projects/{console_project['id']}/schema")
        expect(page.locator("#schema-schemas")).to_contain_text("public")
    finally:
        context.close()
