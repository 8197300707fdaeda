"""The Settings section, pins, the remembered replay target and local times in real chromium
against real gunicorn (templates/partials/_settings*.html, static/js/bin-page.js)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import BROWSER_MARKS

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect
ZONE = "Pacific/Auckland"  # far from UTC: its date differs from UTC's for half of every day


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, timezone_id=ZONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


def send(live_server, bin_id: str, path: str = "/x") -> httpx.Response:
    return httpx.post(f"{live_server.url}/h/{bin_id}{path}", content=b"{}", timeout=10)


def open_live(page, bin_id: str, query: str = "") -> None:
    page.goto(f"/bins/{bin_id}{query}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


def test_response_status_changed_in_the_page_answers_captures(page, live_server):
    bin_id = live_server.create_bin()
    open_live(page, bin_id)
    page.click("#settings summary")
    page.fill("#settings-status", "202")
    page.fill("#settings-headers", "X-From-Page: yes")
    page.click("#settings-response button[type=submit]")
    expect(page.locator("#settings-response")).to_contain_text("Saved")
    answer = send(live_server, bin_id)
    assert answer.status_code == 202 and answer.headers["X-From-Page"] == "yes"
    page.fill("#settings-status", "42")
    page.click("#settings-response button[type=submit]")
    expect(page.locator("#settings-response .form-error")).to_contain_text("from 200 to 599")
    expect(page.locator("#bin-count")).to_contain_text("1 of 1000 kept")  # reloaded as the count changed
    assert page.errors == []


def test_pinned_row_stays_after_clear_all(page, live_server):
    bin_id = live_server.create_bin()
    open_live(page, bin_id)
    kept = send(live_server, bin_id, "/keep").json()["request_id"]
    gone = send(live_server, bin_id, "/gone").json()["request_id"]
    expect(page.locator(f"#req-{gone}")).to_be_visible()
    page.click(f"#req-{kept} .row-link")
    page.click("#pin-note .pin-toggle")
    expect(page.locator("#pin-note")).to_contain_text("Pinned")
    expect(page.locator(f"#req-{kept} .pin-mark")).to_be_visible()
    page.fill("#capture-note", "the one that broke prod")
    page.click("#pin-note .note-form button[type=submit]")
    expect(page.locator(f"#req-{kept} .row-note")).to_have_text("the one that broke prod")
    page.click("#live .pane-head button.danger")
    expect(page.locator(f"#req-{gone}")).to_have_count(0)
    expect(page.locator(f"#req-{kept}")).to_be_visible()
    page.reload()
    expect(page.locator(f"#req-{kept}")).to_be_visible()
    expect(page.locator(f"#req-{gone}")).to_have_count(0)
    assert page.errors == []


def test_replay_target_is_prefilled_after_a_reload(page, live_server):
    bin_id = live_server.create_bin()
    capture_id = send(live_server, bin_id).json()["request_id"]
    page.goto(f"/bins/{bin_id}?request={capture_id}")
    expect(page.locator("#replay-url")).to_have_value("")
    page.fill("#replay-url", "127.0.0.1:9/hooks")
    page.click("#replay button[type=submit]")
    expect(page.locator("#replay-result")).to_contain_text("http://127.0.0.1:9/hooks/x")
    page.reload()
    expect(page.locator("#replay-url")).to_have_value("127.0.0.1:9/hooks")
    other = live_server.create_bin()
    other_id = send(live_server, other).json()["request_id"]
    page.goto(f"/bins/{other}?request={other_id}")
    expect(page.locator("#replay-url")).to_have_value("")  # remembered per bin
    expect(page.locator("#listen-command")).to_have_text(
        f"hookloupe listen {live_server.url}/bins/{other} --to http://localhost:3000"
    )


def test_times_show_the_local_date_and_age_with_utc_in_the_tooltip(page, live_server):
    bin_id = live_server.create_bin()
    open_live(page, bin_id)
    capture_id = send(live_server, bin_id).json()["request_id"]
    shown = page.locator(f"#req-{capture_id} time")  # a row that arrived live
    expect(shown).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d · (just now|\d+ s ago)$"))
    iso = shown.get_attribute("datetime")
    local = datetime.fromisoformat(iso).astimezone(ZoneInfo(ZONE))
    assert shown.text_content().startswith(local.strftime("%Y-%m-%d %H:%M"))
    assert shown.get_attribute("title").endswith(" UTC")
    page.reload()
    expect(page.locator(f"#req-{capture_id} time")).to_have_text(re.compile("^" + local.strftime("%Y-%m-%d %H:%M")))
    assert page.errors == []
