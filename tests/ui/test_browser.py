"""The viewer in a real browser: sign in, filter, detail, dashboard charts, SQL, CSV, live mode, sign out.

The database holds hostile values sent through real OTLP ingest (`data.hostile`); every step fails on
a dialog, a console error (a CSP violation is one), a page error, or `window.__xss` being set.
Screenshots of every page, at 1280 and 390 px wide, go to `build/ui-screenshots/` for review.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from . import data
from .browser import Watched, chromium
from .conftest import ORDINARY_ROWS, PASSWORD, Running

WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def _sign_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/ui/")


def _canvas_drawn(page: Page, chart_id: str) -> bool:
    """Whether the chart's canvas exists and has pixels drawn (not all transparent)."""
    script = """(id) => {
        const canvas = document.querySelector('#' + id + ' canvas');
        if (!canvas || !canvas.width || !canvas.height) return false;
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
        return false;
    }"""
    return bool(page.evaluate(script, chart_id))


def test_walk_through_the_viewer(running: Running) -> None:
    base = running.base
    with chromium() as browser:
        context = browser.new_context(viewport=WIDE, accept_downloads=True)
        page = context.new_page()
        watched = Watched(page)

        # 1. Sign in: / redirects to the form, the form to the list.
        page.goto(base + "/")
        watched.shot("1-login-1280")
        _sign_in(page, base)
        rows = page.locator("#logs tbody tr")
        expect(rows).to_have_count(ORDINARY_ROWS + 1)
        expect(page.locator("#logs tbody")).to_contain_text(data.SCRIPT)  # shown as text, not run
        watched.check("list")
        watched.shot("2-list-1280")

        # 2. Filter: the state goes into the URL, and the back button returns to the unfiltered list.
        page.get_by_label("Status").select_option("5xx")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"/ui/\?status=5xx$"))
        statuses = page.locator("#logs tbody .status").all_inner_texts()
        assert statuses and set(statuses) == {"500"}, statuses
        page.go_back()
        expect(rows).to_have_count(ORDINARY_ROWS + 1)
        watched.check("filter")

        # 3. Detail of the hostile request: every value inert, the secret header marked redacted.
        page.locator("td.endpoint a", has_text="/xss/").click()
        expect(page).to_have_url(re.compile(r"/ui/logs/\d+$"))
        main = page.locator("main")
        expect(main).to_contain_text(data.TEMPLATE)  # template syntax not evaluated
        expect(main).to_contain_text(data.IMG)
        expect(page.locator(".exception-panel .traceback")).to_contain_text(data.SCRIPT)
        expect(page.locator(".tag.redacted")).to_have_count(1)
        curl = page.locator("#curl").inner_text()
        assert "[REDACTED]" in curl and "0123456789abcdef" not in curl
        trace_link = page.get_by_role("link", name="Open trace").get_attribute("href")
        assert trace_link == "https://traces.example/trace/" + data.EVIL_TRACE.hex() + "?span=0000000000000001"
        watched.check("detail")
        watched.shot("3-detail-1280")

        # 4. Dashboard: the three charts are drawn on canvas from the series endpoint.
        page.goto(base + "/ui/dashboard?range=1h")
        for chart in ("chart-rpm", "chart-errors", "chart-latency"):
            expect(page.locator(f"#{chart}")).to_have_attribute("data-drawn", "true")
            assert _canvas_drawn(page, chart), chart
        expect(page.locator("#summary")).to_contain_text(f"{ORDINARY_ROWS + 1} requests")
        expect(page.locator("main")).to_contain_text(data.EVIL_EXCEPTION)
        watched.check("dashboard")
        watched.shot("4-dashboard-1280")

        # 5. SQL: run a query, see the table, download CSV.
        page.get_by_role("link", name="SQL").click()
        page.get_by_label("One read-only statement").fill(
            "SELECT id, username, endpoint FROM request_logs WHERE username IS NOT NULL ORDER BY id"
        )
        page.get_by_role("button", name="Run").click()
        expect(page.locator("#result tbody")).to_contain_text(data.EVIL_USER)
        watched.check("sql")
        watched.shot("5-sql-1280")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").click()
        assert download.value.suggested_filename == "reqlog-query.csv"
        text = Path(download.value.path()).read_text(encoding="utf-8")
        table = list(csv.reader(io.StringIO(text)))
        assert table[0] == ["id", "username", "endpoint"] and len(table) == 1 + ORDINARY_ROWS // 2 + 1
        page.get_by_role("button", name="Run").click()  # the page is still usable after the download
        page.get_by_label("One read-only statement").fill("DELETE FROM request_logs")
        page.get_by_role("button", name="Run").click()
        expect(page.get_by_role("alert")).to_contain_text("read-only")
        watched.check("sql error")

        # 6. Live mode: a request ingested now appears on top without a reload.
        page.goto(base + "/ui/")
        page.get_by_label("Live").check()
        data.send(running.service.port, running.ingest_token, [data.hostile(data.now_ns(), span_number=2)])
        expect(rows).to_have_count(ORDINARY_ROWS + 2, timeout=10_000)
        expect(page.locator("#logs tbody tr.new")).to_have_count(1)
        page.get_by_label("Live").uncheck()
        watched.check("live")

        # 7. At 390 px: every page usable, nothing wider than the screen but the tables' own scrollers.
        page.set_viewport_size(NARROW)
        for name, path in (("list", "/ui/"), ("dashboard", "/ui/dashboard?range=1h"), ("sql", "/ui/sql")):
            page.goto(base + path)
            if name == "dashboard":
                expect(page.locator("#chart-latency")).to_have_attribute("data-drawn", "true")
            overflow = page.evaluate("() => document.documentElement.scrollWidth")
            assert overflow <= NARROW["width"], (name, overflow)
            watched.shot(f"6-{name}-390")
        page.goto(base + "/ui/")
        page.locator("#logs tbody a").first.click()
        watched.shot("6-detail-390")
        watched.check("narrow")

        # 8. Sign out: back to the form, and the viewer asks to sign in again.
        page.set_viewport_size(WIDE)
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(base + "/ui/login")
        page.goto(base + "/ui/")
        expect(page).to_have_url(re.compile(r"/ui/login\?next="))
        watched.check("signed out")
        context.close()
