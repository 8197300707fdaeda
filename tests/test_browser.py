"""The pages in real chromium (Playwright) against real gunicorn: live rows, inert hostile data, controls."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import httpx
import pytest
from conftest import BROWSER_MARKS
from targets import RecordingTarget

from inspector.signing.samples import build_sample

HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'
HOSTILE_HTMX = '<div hx-get="/api/bins" hx-trigger="load">'

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect


class Recorder:
    """What a page did: every request URL, console errors and uncaught page errors."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def csp_errors(self) -> list[str]:
        return [text for text in self.console_errors if "Content Security Policy" in text]


@pytest.fixture
def context(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.recorder = Recorder(page)
    return page


def open_live(page, bin_id: str) -> None:
    page.goto(f"/bins/{bin_id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#live-status")).to_have_text("live")


def post_capture(server, bin_id: str, path: str = "/hook", **kwargs) -> int:
    response = httpx.post(f"{server.url}/h/{bin_id}{path}", timeout=10, **kwargs)
    assert response.status_code == 200
    return response.json()["request_id"]


def post_raw(server, request_target: str, headers: str, body: bytes) -> int:
    """Send a request line exactly as given (httpx would percent-encode a hostile path)."""
    head = f"POST {request_target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return int(answer.rsplit(b'"request_id":', 1)[1].strip(b" }\r\n"))


def post_hostile(server, bin_id: str) -> int:
    return post_raw(
        server,
        f"/h/{bin_id}/{HOSTILE_SCRIPT}?q={HOSTILE_IMG.replace(' ', '%20')}&x={HOSTILE_SCRIPT}",
        f"X-Evil: {HOSTILE_HTMX}\r\nX-Img: {HOSTILE_IMG}\r\nContent-Type: text/html\r\n",
        f"{HOSTILE_SCRIPT}\n{HOSTILE_IMG}\n{HOSTILE_HTMX}".encode(),
    )


# --- live updates ----------------------------------------------------------------------------


def test_capture_appears_live_without_reload(page, live_server):
    bin_id = live_server.create_bin("live-bin")
    open_live(page, bin_id)
    page.evaluate("window.__sameDocument = true")
    capture_id = post_capture(live_server, bin_id, "/orders", json={"order": 1})
    row = page.locator(f"#req-{capture_id}")
    expect(row).to_be_visible()
    expect(row.locator(".method")).to_have_text("POST")
    expect(row.locator(".path")).to_have_text("/orders")
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator(".empty-note")).to_be_hidden()
    assert page.recorder.csp_errors() == [] and page.recorder.page_errors == []


def test_rows_arrive_in_order_without_duplicates(page, live_server):
    bin_id = live_server.create_bin("order-bin")
    open_live(page, bin_id)
    ids = [post_capture(live_server, bin_id, f"/n{n}") for n in range(5)]
    expect(page.locator(f"#req-{ids[-1]}")).to_be_visible()
    shown = page.eval_on_selector_all(".request-row", "rows => rows.map(row => row.id)")
    assert shown == [f"req-{capture_id}" for capture_id in reversed(ids)]


def test_no_capture_is_missed_across_stream_reconnects(browser, tmp_path):
    """Streams that end every second make the browser reconnect repeatedly (Last-Event-ID);
    captures sent all the while must each show exactly once."""
    from conftest import LiveServer  # the shared server class, started here with short streams

    server = LiveServer(tmp_path, env={"HOOKLOUPE_STREAM_MAX_S": "1"}).start()
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        bin_id = server.create_bin("reconnect-bin")
        open_live(page, bin_id)
        ids = []
        for _ in range(12):
            ids.append(post_capture(server, bin_id))
            time.sleep(0.25)
        for capture_id in ids:
            expect(page.locator(f"#req-{capture_id}")).to_have_count(1)
        assert page.locator(".request-row").count() == len(ids)
        expect(page.locator("#live-status")).to_have_text("live")
    finally:
        context.close()
        server.stop()


def test_status_shows_reconnecting_then_live_when_the_stream_drops(page, live_server):
    bin_id = live_server.create_bin("drop-bin")
    page.route("**/stream*", lambda route: route.fulfill(status=503, body="busy"))
    page.goto(f"/bins/{bin_id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    capture_id = post_capture(live_server, bin_id)  # sent while the page has no stream
    page.unroute("**/stream*")
    expect(page.locator("#live-status")).to_have_text("live")
    expect(page.locator(f"#req-{capture_id}")).to_be_visible()


# --- hostile captures ------------------------------------------------------------------------


def test_hostile_capture_runs_nothing_and_requests_nothing(page, live_server):
    bin_id = live_server.create_bin("hostile-bin")
    before_load = post_hostile(live_server, bin_id)  # rendered by the page itself
    open_live(page, bin_id)
    arrived_live = post_hostile(live_server, bin_id)  # rendered into the page over SSE
    expect(page.locator(f"#req-{arrived_live}")).to_be_visible()
    expect(page.locator(f"#req-{arrived_live} .path")).to_contain_text(HOSTILE_SCRIPT)

    for capture_id in (before_load, arrived_live):
        page.click(f"#req-{capture_id} a")
        expect(page.locator(f'#detail[data-capture-id="{capture_id}"]')).to_be_visible()
        page.eval_on_selector_all("#detail details", "all => all.forEach(d => { d.open = true; })")
        expect(page.locator("#detail")).to_contain_text(HOSTILE_HTMX)
        expect(page.locator("#detail")).to_contain_text(HOSTILE_IMG)
    page.wait_for_timeout(500)  # give any injected trigger ("load") time to fire

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#detail img, #request-list img, [hx-trigger]:not(#facets)").count() == 0
    paths = [httpx.URL(url).path for url in page.recorder.requests]
    assert "/api/bins" not in paths
    assert not [path for path in paths if path.endswith("/x")]
    assert page.recorder.csp_errors() == []
    assert page.recorder.page_errors == []


# --- controls --------------------------------------------------------------------------------


def test_copy_button_copies_the_capture_url(page, live_server):
    bin_id = live_server.create_bin("copy-bin")
    open_live(page, bin_id)
    page.click('button[data-copy="capture-url"]')
    expect(page.locator('button[data-copy="capture-url"]')).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/h/{bin_id}"


def test_detail_pane_shows_the_capture(page, live_server):
    bin_id = live_server.create_bin("detail-bin")
    capture_id = post_capture(
        live_server, bin_id, "/pay", params={"a": "1"}, json={"amount": 5}, headers={"X-Signature": "sig-123"}
    )
    open_live(page, bin_id)
    page.click(f"#req-{capture_id} a")
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text(f"Request #{capture_id}")
    expect(detail).to_contain_text(f"/h/{bin_id}/pay")
    expect(detail).to_contain_text("sig-123")
    expect(detail.locator("pre.body-json")).to_contain_text('"amount": 5')
    expect(page.locator(f"#req-{capture_id}")).to_have_class("request-row selected")
    href = detail.locator("a[download]").get_attribute("href")
    assert httpx.get(live_server.url + href).content == b'{"amount":5}'


def test_delete_one_and_clear_all(page, live_server):
    bin_id = live_server.create_bin("delete-bin")
    keep = post_capture(live_server, bin_id)
    gone = post_capture(live_server, bin_id)
    open_live(page, bin_id)
    page.on("dialog", lambda dialog: dialog.accept())

    page.click(f"#req-{gone} a")
    page.click("#detail button.danger")
    expect(page.locator(f"#req-{gone}")).to_have_count(0)
    expect(page.locator("#detail .placeholder")).to_be_visible()
    assert httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests/{gone}").status_code == 404

    page.click("#live header button.danger")
    expect(page.locator(f"#req-{keep}")).to_have_count(0)
    expect(page.locator(".empty-note")).to_be_visible()
    assert httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests").json()["requests"] == []
    expect(page.locator("#live-status")).to_have_text("live")


def test_live_rows_still_arrive_after_clear_all(page, live_server):
    bin_id = live_server.create_bin("clear-bin")
    post_capture(live_server, bin_id)
    open_live(page, bin_id)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#live header button.danger")
    expect(page.locator(".empty-note")).to_be_visible()
    later = post_capture(live_server, bin_id)
    expect(page.locator(f"#req-{later}")).to_be_visible()


def test_home_creates_a_bin_and_remembers_it(page, live_server):
    page.goto("/")
    page.fill("#bin-name", "Bad Name!")
    page.click("#create-form button[type=submit]")
    expect(page.locator("#create-error")).to_contain_text("lowercase letters")

    page.fill("#bin-name", "from-home")
    page.click("#create-form button[type=submit]")
    page.wait_for_url("**/bins/from-home")
    expect(page.locator("#live-status")).to_have_text("live")

    page.goto("/")
    expect(page.locator("#recent-bins a")).to_have_text(["from-home"])
    page.fill("#bin-name", "from-home")
    page.click("#create-form button[type=submit]")
    expect(page.locator("#create-error")).to_contain_text("already exists")
    assert page.recorder.csp_errors() == []


def test_unknown_bin_shows_the_404_page(page, live_server):
    response = page.goto("/bins/never-made")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("No such bin")


# --- secrets, verdicts, debugger, replay -----------------------------------------------------


def test_secret_verdict_debugger_and_replay_flow(page, live_server):
    secret = "browser-github-secret-0123456789"
    bin_id = live_server.create_bin("verdict-bin")
    early = build_sample("github", secret=secret, event="ping", at=datetime.now(UTC))
    early_id = post_capture(live_server, bin_id, "/gh", content=early.body, headers=dict(early.headers))
    open_live(page, bin_id)
    expect(page.locator(f"#req-{early_id} .verdict")).to_have_text("no secret")

    page.click("#secrets summary")
    page.fill("#secret-label", "github prod")
    page.fill("#secret-value", secret)
    page.select_option("#secret-provider", "github")
    expect(page.locator("#secret-hint")).to_contain_text("Find it in")
    page.click("#secrets button[type=submit]")
    expect(page.locator("#secrets")).to_contain_text("Saved secret")
    expect(page.locator("#secrets .secret-list")).to_contain_text("github prod")
    assert secret not in page.content()
    # Adding a secret verifies every capture again: the page reloads its list (and re-makes its stream).
    expect(page.locator(f"#req-{early_id} .verdict")).to_have_text("valid")
    expect(page.locator("#live-status")).to_have_text("live")

    sample = build_sample("github", secret=secret, event="push", at=datetime.now(UTC))
    capture_id = post_capture(live_server, bin_id, "/gh", content=sample.body, headers=dict(sample.headers))
    row = page.locator(f"#req-{capture_id}")
    expect(row.locator(".verdict")).to_have_text("valid")
    expect(row.locator(".verdict")).to_have_class("badge verdict verdict-valid")
    expect(row.locator(".badge.event")).to_have_text("push")

    row.locator("a").click()
    debugger = page.locator("#signature .debugger")
    expect(debugger).to_be_visible()
    expect(debugger).to_contain_text("Expected signature")
    expect(page.locator("#signature")).to_contain_text("secret “github prod”")
    page.click("#signature button")  # check now
    expect(page.locator("#signature .checked-now")).to_be_visible()

    target = RecordingTarget().start()
    try:
        page.fill("#replay-url", target.url + "/in")
        page.click("#replay button[type=submit]")
        expect(page.locator("#replay-result")).to_contain_text("200")
        expect(page.locator("#deliveries .delivery")).to_have_count(1)
        first = target.wait_for(1)[0]
        assert first.path == "/in/gh" and first.body == sample.body

        # Edited and re-signed: the textarea (inside an hx-disable block) is still submitted.
        page.click("#replay .replay-edits summary")
        page.fill("#replay-body", '{"edited": true}')
        page.check("#replay input[name=resign]")
        page.click("#replay button[type=submit]")
        expect(page.locator("#deliveries .delivery")).to_have_count(2)
        expect(page.locator("#deliveries")).to_contain_text("edited before sending: body")
        second = target.wait_for(2)[1]
        assert second.body == b'{"edited": true}'
        assert second.header("X-Hub-Signature-256") != first.header("X-Hub-Signature-256")

        page.click("#deliveries .compare-form button")
        expect(page.locator("#compare")).to_contain_text("Compare #")
        expect(page.locator("#compare")).to_contain_text("The bodies are identical.")
    finally:
        target.stop()
    assert page.recorder.csp_errors() == [] and page.recorder.page_errors == []


def test_filters_reload_the_list_and_skip_live_rows_that_do_not_match(page, live_server):
    bin_id = live_server.create_bin("filter-bin")
    plain = post_capture(live_server, bin_id, "/plain")
    open_live(page, bin_id)
    page.select_option("#filters select[name=verdict]", "valid")  # applies at once
    expect(page.locator(f"#req-{plain}")).to_have_count(0)
    expect(page.locator(".empty-note")).to_contain_text("No requests match")
    expect(page.locator("#live-status")).to_have_text("live")
    assert "verdict=valid" in page.url
    later_plain = post_capture(live_server, bin_id, "/plain-again")
    page.wait_for_timeout(1000)
    expect(page.locator(f"#req-{later_plain}")).to_have_count(0)
    page.click("#filters .reset")
    expect(page.locator(f"#req-{later_plain}")).to_be_visible()
    assert page.recorder.csp_errors() == [] and page.recorder.page_errors == []


# --- counts ------------------------------------------------------------------------------------


def github_capture(server, bin_id: str, secret: str) -> int:
    sample = build_sample("github", secret=secret, event="push", at=datetime.now(UTC))
    return post_capture(server, bin_id, "/gh", content=sample.body, headers=dict(sample.headers))


def provider_option(page, value: str):
    return page.locator(f'#facets select[name=provider] option[value="{value}"]')


def test_counts_update_live_and_after_clear_all(page, live_server):
    bin_id = live_server.create_bin("counts-bin")
    open_live(page, bin_id)
    page.on("dialog", lambda dialog: dialog.accept())
    for _ in range(3):
        github_capture(live_server, bin_id, "some-secret")
    post_capture(live_server, bin_id)
    expect(page.locator("#bin-counts")).to_have_text("4 of 1000 requests kept")
    expect(provider_option(page, "github")).to_have_text("GitHub (3)")
    expect(provider_option(page, "none")).to_have_text("no provider (1)")
    expect(page.locator('#facets select[name=verdict] option[value="no_secret"]')).to_have_text("no secret (3)")

    page.click("#live header button.danger")  # clear all
    expect(page.locator("#bin-counts")).to_have_text("0 of 1000 requests kept")
    expect(provider_option(page, "github")).to_have_count(0)
    post_capture(live_server, bin_id)
    expect(page.locator("#bin-counts")).to_have_text("1 of 1000 requests kept")
    assert page.recorder.csp_errors() == [] and page.recorder.page_errors == []


def test_a_new_secret_rechecks_every_row_and_the_list_follows(page, live_server):
    secret = "recheck-secret-0123456789"
    bin_id = live_server.create_bin("recheck-bin")
    ids = [github_capture(live_server, bin_id, secret) for _ in range(30)]
    open_live(page, bin_id)
    expect(page.locator('#facets select[name=verdict] option[value="no_secret"]')).to_have_text("no secret (30)")
    response = httpx.post(
        f"{live_server.url}/api/bins/{bin_id}/secrets",
        json={"label": "gh", "value": secret, "provider": "github"},
        timeout=10,
    )
    assert response.status_code == 201
    # The facets poll (every 10 s at rest) then follow the background re-check, and when it is
    # done the list reloads with the new verdicts.
    expect(page.locator('#facets select[name=verdict] option[value="valid"]')).to_have_text("valid (30)", timeout=25000)
    expect(page.locator(f"#req-{ids[0]} .verdict")).to_have_text("valid", timeout=25000)
    assert page.recorder.csp_errors() == [] and page.recorder.page_errors == []
