"""Layout and access in real chromium: phone layout, dark mode, keyboard, WCAG AA contrast (axe-core), live list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import BROWSER_MARKS, LiveServer

from inspector.signing.samples import build_sample

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SECRET = "layout-secret"
PASSWORD = "layout-password"


def api(server, method: str, path: str, **kwargs) -> httpx.Response:
    response = httpx.request(method, server.url + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response


def post_capture(server, bin_id: str, path: str = "/hook", **kwargs) -> int:
    response = httpx.post(f"{server.url}/h/{bin_id}{path}", timeout=10, **kwargs)
    assert response.status_code == 200
    return response.json()["request_id"]


def post_sample(server, bin_id: str, provider: str, *, secret: str = SECRET, at: datetime | None = None) -> int:
    sample = build_sample(provider, secret=secret, at=at or datetime.now(UTC))
    return post_capture(server, bin_id, f"/{provider}", content=sample.body, headers=dict(sample.headers))


def bin_with_every_verdict(server, name: str) -> tuple[str, list[int]]:
    """valid, invalid, expired, no secret, no provider (and their badges) in one bin."""
    bin_id = server.create_bin(name)
    for provider in ("github", "stripe"):
        api(
            server,
            "POST",
            f"/api/bins/{bin_id}/secrets",
            json={"label": provider, "value": SECRET, "provider": provider},
        )
    ids = [
        post_sample(server, bin_id, "github"),
        post_sample(server, bin_id, "github", secret="not-the-secret"),
        post_sample(server, bin_id, "stripe", at=datetime.now(UTC) - timedelta(hours=2)),
        post_sample(server, bin_id, "shopify"),
        post_capture(server, bin_id, "/plain", json={"hello": "world"}),
    ]
    return bin_id, ids


def open_live(page, bin_id: str) -> None:
    page.goto(f"/bins/{bin_id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


@pytest.fixture
def new_page(browser, live_server):
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


def in_viewport(page, selector: str) -> bool:
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }",
    )


# --- phone layout ------------------------------------------------------------------------------


def test_phone_tap_brings_the_detail_into_view_and_back(new_page, live_server):
    bin_id = live_server.create_bin("phone-bin")
    ids = [post_capture(live_server, bin_id, f"/n{n}", json={"n": n}) for n in range(12)]
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    open_live(page, bin_id)
    page.tap(f"#req-{ids[3]} a")
    heading = page.locator("#detail-heading")
    expect(heading).to_have_text(f"Request #{ids[3]}")
    # Locator assertions, not wait_for_function: the page's CSP forbids the eval that polls a string.
    expect(heading).to_be_focused()
    assert in_viewport(page, "#detail-heading")
    back = page.locator("#detail [data-back-to-list]")
    expect(back).to_be_visible()
    back.tap()
    expect(page.locator(".request-row.selected .row-link")).to_be_focused()
    assert in_viewport(page, f"#req-{ids[3]} a")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling


def test_back_button_is_hidden_on_a_wide_screen(new_page, live_server):
    bin_id = live_server.create_bin("wide-bin")
    capture_id = post_capture(live_server, bin_id)
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"/bins/{bin_id}?request={capture_id}")
    expect(page.locator("#detail-heading")).to_be_visible()
    expect(page.locator("[data-back-to-list]")).to_be_hidden()


# --- dark mode -----------------------------------------------------------------------------------


def background_luminance(page, selector: str) -> float:
    rgb = page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor.match(/\\d+/g).map(Number)")
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def test_dark_mode_follows_the_system_setting(new_page, live_server):
    bin_id = live_server.create_bin("dark-bin")
    light = new_page(color_scheme="light")
    light.goto(f"/bins/{bin_id}")
    dark = new_page(color_scheme="dark")
    dark.goto(f"/bins/{bin_id}")
    assert background_luminance(light, "body") > 0.9 and background_luminance(light, "#live") > 0.9
    assert background_luminance(dark, "body") < 0.15 and background_luminance(dark, "#live") < 0.15


# --- keyboard ------------------------------------------------------------------------------------


def test_j_k_move_the_selection_and_enter_opens_it(new_page, live_server):
    bin_id = live_server.create_bin("keys-bin")
    ids = [post_capture(live_server, bin_id, f"/k{n}") for n in range(3)]
    newest_first = list(reversed(ids))
    page = new_page()
    open_live(page, bin_id)

    def focused_row() -> str:
        return page.evaluate("document.activeElement.closest('.request-row')?.id ?? ''")

    page.keyboard.press("j")
    assert focused_row() == f"req-{newest_first[0]}"
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # stays on the last row
    assert focused_row() == f"req-{newest_first[2]}"
    page.keyboard.press("k")
    assert focused_row() == f"req-{newest_first[1]}"
    expect(page.locator(f"#req-{newest_first[1]}")).to_have_class("request-row cursor")
    page.keyboard.press("Enter")
    expect(page.locator("#detail-heading")).to_have_text(f"Request #{newest_first[1]}")
    expect(page.locator("#detail-heading")).to_be_focused()
    # From the open detail, j continues from the open row.
    page.keyboard.press("j")
    assert focused_row() == f"req-{newest_first[2]}"


def test_j_and_k_are_ordinary_letters_in_inputs(new_page, live_server):
    bin_id = live_server.create_bin("typing-bin")
    post_capture(live_server, bin_id)
    page = new_page()
    open_live(page, bin_id)
    page.focus("#filters input[name=event]")
    page.keyboard.type("jk")
    assert page.input_value("#filters input[name=event]") == "jk"
    assert page.evaluate("document.activeElement.name") == "event"


# --- contrast (axe-core) -----------------------------------------------------------------------


def contrast_violations(page) -> list[str]:
    """axe-core's colour-contrast (and a few cheap) rules on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'rule', values:
             ['color-contrast', 'document-title', 'html-has-lang', 'image-alt', 'button-name', 'link-name']},
             resultTypes: ['violations']})"""
    )
    return [
        f"{violation['id']}: {node['target']} {node.get('failureSummary', '')}"
        for violation in result["violations"]
        for node in violation["nodes"]
    ]


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("layout-signin"), env={"HOOKLOUPE_PASSWORD": PASSWORD}).start()
    yield server
    server.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_have_aa_contrast(browser, live_server, signin_server, scheme):
    bin_id, ids = bin_with_every_verdict(live_server, f"contrast-{scheme}")
    share = api(live_server, "POST", f"/api/bins/{bin_id}/shares", json={}).json()
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        found: dict[str, list[str]] = {}
        page.goto("/")
        found["home"] = contrast_violations(page)
        open_live(page, bin_id)
        for capture_id in ids:
            expect(page.locator(f"#req-{capture_id} .badges, #req-{capture_id} .row-data").first).to_be_visible()
        page.wait_for_timeout(1200)  # the new-row highlight fades out
        found["bin page"] = contrast_violations(page)
        page.click(f"#req-{ids[0]} a")
        expect(page.locator("#detail-heading")).to_have_text(f"Request #{ids[0]}")
        page.wait_for_timeout(1200)
        found["detail"] = contrast_violations(page)
        page.goto(httpx.URL(share["url"]).path)
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        found["share page"] = contrast_violations(page)
        page.goto(signin_server.url + "/signin")
        found["sign-in"] = contrast_violations(page)
    finally:
        context.close()
    assert {name: problems for name, problems in found.items() if problems} == {}


# --- live list: count, unread, follow newest ---------------------------------------------------


def test_count_and_unread_markers_update_live(new_page, live_server):
    bin_id = live_server.create_bin("unread-bin")
    first = post_capture(live_server, bin_id)
    page = new_page()
    open_live(page, bin_id)
    count = page.locator("#capture-count")
    expect(count).to_have_text("1 request")
    expect(page.locator(".request-row.unread")).to_have_count(0)  # a first visit has nothing unread
    later = [post_capture(live_server, bin_id, f"/later{n}") for n in range(2)]
    expect(count).to_have_text("3 requests · 2 unread")
    expect(page.locator(".request-row.unread")).to_have_count(2)
    page.click(f"#req-{later[0]} a")
    expect(count).to_have_text("3 requests · 1 unread")
    # Unread rows stay unread across a reload until the list is scrolled to its top.
    page.reload()
    expect(page.locator(f"#req-{later[1]}.unread")).to_be_visible()
    page.eval_on_selector("#request-list", "list => list.dispatchEvent(new Event('scroll'))")
    expect(page.locator(".request-row.unread")).to_have_count(0)
    expect(count).to_have_text("3 requests")
    assert first


def test_follow_newest_opens_each_new_capture(new_page, live_server):
    bin_id = live_server.create_bin("follow-bin")
    page = new_page()
    open_live(page, bin_id)
    page.check("#follow-newest")
    page.focus("#filters input[name=event]")
    capture_id = post_capture(live_server, bin_id, "/followed")
    expect(page.locator("#detail")).to_have_attribute("data-capture-id", str(capture_id))
    expect(page.locator(f"#req-{capture_id}")).to_have_class("request-row selected")
    assert page.evaluate("document.activeElement.name") == "event"  # the focus stayed put
    page.reload()  # the toggle is remembered
    expect(page.locator("#follow-newest")).to_be_checked()
    page.uncheck("#follow-newest")
    other = post_capture(live_server, bin_id, "/not-followed")
    expect(page.locator(f"#req-{other}.unread")).to_be_visible()
    expect(page.locator("#detail")).not_to_have_attribute("data-capture-id", str(other))


# --- large capture: on-demand loading in the page ------------------------------------------------


def test_large_body_loads_in_full_on_demand_and_replay_sends_it_unedited(new_page, live_server):
    bin_id = live_server.create_bin("large-bin")
    body = b"0123456789abcdef\n" * (2 * 1024 * 1024 // 17)
    capture_id = post_capture(live_server, bin_id, "/big", content=body, headers={"Content-Type": "text/plain"})
    page = new_page()
    page.goto(f"/bins/{bin_id}?request={capture_id}")
    text = page.locator("#body-view-0 pre.body-text")
    assert len(text.text_content()) == 64 * 1024
    page.click("#body-view-0 button.load-body")
    expect(page.locator("#body-view-0 button.load-body")).to_have_count(0)
    assert len(page.locator("#body-view-0 pre.body-text").text_content()) == len(body)
    page.click("#replay .replay-edits summary")
    expect(page.locator("#replay-body")).to_be_attached()
    assert page.input_value("#replay-body") == body.decode()


def test_axe_reports_low_contrast(browser, live_server):
    """The contrast check itself works: a grey-on-white line is reported."""
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto("/")
        page.evaluate(
            "() => { const p = document.createElement('p'); p.textContent = 'faint';"
            " p.style.color = '#bbbbbb'; p.style.background = '#ffffff'; document.body.append(p); }"
        )
        assert any(problem.startswith("color-contrast") for problem in contrast_violations(page))
    finally:
        context.close()
