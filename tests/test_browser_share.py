"""Share links in real chromium (Playwright) against real gunicorn: a shared page shows captures
redacted and without secrets, takes new ones live, and stops and says so once the link is revoked."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from conftest import BROWSER_MARKS

from inspector.signing.samples import build_sample

SECRET_LABEL = "label-prod-xyzzy"
SECRET_VALUE = "gh-share-secret-0123456789QZXW"
AUTH_VALUE = "Bearer TOPSECRET-auth-9f8e7d"
CARD = "4111-1111-1111-1111"
QUERY_TOKEN = "QUERYSECRET-5150"
HIDDEN = (SECRET_LABEL, SECRET_VALUE, "QZXW", "TOPSECRET", CARD, QUERY_TOKEN)
ENDED = "This share link was revoked or has expired."

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def api(server, method: str, path: str, **kwargs) -> httpx.Response:
    response = httpx.request(method, server.url + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response


def post_capture(server, bin_id: str, path: str = "/hook", **kwargs) -> int:
    response = httpx.post(f"{server.url}/h/{bin_id}{path}", timeout=10, **kwargs)
    assert response.status_code == 200
    return response.json()["request_id"]


def shared_bin(server, name: str) -> tuple[str, dict]:
    """A bin with a secret and redaction rules, and a share link to it."""
    bin_id = server.create_bin(name)
    api(server, "PATCH", f"/api/bins/{bin_id}", json={"redact": {"json_paths": ["card"], "form_fields": ["token"]}})
    secret = {"label": SECRET_LABEL, "value": SECRET_VALUE, "provider": "github"}
    api(server, "POST", f"/api/bins/{bin_id}/secrets", json=secret)
    link = api(server, "POST", f"/api/bins/{bin_id}/shares", json={}).json()
    return bin_id, link


def open_shared(page, link: dict) -> str:
    path = httpx.URL(link["url"]).path
    page.goto(path)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    return path


def assert_nothing_hidden(page) -> None:
    html = page.content()
    for hidden in HIDDEN:
        assert hidden not in html


def test_share_page_shows_captures_redacted_and_without_secrets(page, live_server):
    bin_id, link = shared_bin(live_server, "share-redacted")
    sensitive = post_capture(
        live_server,
        bin_id,
        f"/orders?token={QUERY_TOKEN}&page=2",
        content=b'{"card": "' + CARD.encode() + b'", "amount": 12}',
        headers={"Authorization": AUTH_VALUE, "Content-Type": "application/json"},
    )
    sample = build_sample("github", secret=SECRET_VALUE, at=datetime.now(UTC))
    signed = post_capture(live_server, bin_id, "/github", content=sample.body, headers=dict(sample.headers))
    open_shared(page, link)

    page.click(f"#req-{sensitive} a")
    expect(page.locator(f'#detail[data-capture-id="{sensitive}"]')).to_be_visible()
    page.eval_on_selector_all("#detail details", "all => all.forEach(d => { d.open = true; })")
    expect(page.locator("#detail")).to_contain_text("[redacted]")
    expect(page.locator("#detail")).to_contain_text("page=2")
    assert_nothing_hidden(page)

    page.click(f"#req-{signed} a")
    expect(page.locator("#signature")).to_contain_text("The signature matched a stored secret.")
    expect(page.locator("#signature .verdict-valid")).to_be_visible()
    assert_nothing_hidden(page)
    # Read-only: none of the owner's panels or controls, and the bin id nowhere.
    assert (
        page.locator("#secrets, #forward-settings, #replay, #deliveries, button.danger, [hx-post], [hx-delete]").count()
        == 0
    )
    assert page.locator("text=Download body").count() == 0  # the link does not allow it
    assert bin_id not in page.content()
    assert page.errors == []
    assert link["token"] not in live_server.log_path.read_text()


def test_capture_sent_after_the_page_opened_appears_live_through_the_link(page, live_server):
    bin_id, link = shared_bin(live_server, "share-live")
    open_shared(page, link)
    page.evaluate("window.__sameDocument = true")
    arrived = post_capture(live_server, bin_id, f"/late?token={QUERY_TOKEN}", json={"card": CARD})
    row = page.locator(f"#req-{arrived}")
    expect(row).to_be_visible()
    expect(row.locator(".path")).to_have_text("/late?token=[redacted]")
    assert page.evaluate("window.__sameDocument") is True
    page.click(f"#req-{arrived} a")
    expect(page.locator(f'#detail[data-capture-id="{arrived}"]')).to_contain_text("[redacted]")
    assert_nothing_hidden(page)
    assert page.errors == []


def test_a_large_body_loads_in_full_through_the_link_redacted(page, live_server):
    bin_id, link = shared_bin(live_server, "share-large")
    padding = "p" * (70 * 1024)  # past the pane's 64 KiB preview
    body = f'{{"pad": "{padding}", "card": "{CARD}"}}'.encode()
    arrived = post_capture(live_server, bin_id, content=body, headers={"Content-Type": "application/json"})
    path = open_shared(page, link)
    page.click(f"#req-{arrived} a")
    load = page.locator("#body-view-0 button.load-body")
    expect(load).to_be_visible()
    load.click()
    expect(load).to_have_count(0)
    text = page.locator("#body-view-0 pre.body-text").text_content()
    assert padding in text and "[redacted]" in text
    assert all(url.startswith(live_server.url + path) for url in page.requests if "/body?" in url)
    assert_nothing_hidden(page)
    assert page.errors == []


def test_revoking_the_link_ends_the_open_page(page, live_server):
    bin_id, link = shared_bin(live_server, "share-revoked")
    open_shared(page, link)
    expect(page.locator("#share-ended")).to_be_hidden()
    api(live_server, "DELETE", f"/api/bins/{bin_id}/shares/{link['id']}")

    expect(page.locator("#share-ended")).to_be_visible()
    expect(page.locator("#share-ended")).to_have_text(ENDED)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "ended")
    streams = len([url for url in page.requests if "/stream" in url])
    late = post_capture(live_server, bin_id, "/after-revocation")
    page.wait_for_timeout(2500)  # longer than the stream's retry and the list's live delay
    assert len([url for url in page.requests if "/stream" in url]) == streams  # no reconnecting
    assert page.locator(f"#req-{late}").count() == 0
    expect(page.locator("#live-status")).to_have_attribute("data-state", "ended")
    assert page.errors == []
