"""The search box in real chromium against real gunicorn: the query syntax narrows the list,
free text is case-insensitive over decoded bodies and header values, and a bad name says why."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest
from conftest import BROWSER_MARKS

from inspector.signing.samples import build_sample

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def capture(server, bin_id: str, path: str, **kwargs) -> int:
    response = httpx.post(f"{server.url}/h/{bin_id}{path}", timeout=10, **kwargs)
    assert response.status_code == 200
    return response.json()["request_id"]


def search(page, text: str, *, answered: bool = True) -> None:
    """Search, and wait until the list for `text` is in (its URL pushed): the checks that follow
    could otherwise pass on the previous list, and the next fill land in a box about to be
    replaced."""
    page.fill("#filters input[name=q]", text)
    page.press("#filters input[name=q]", "Enter")
    if answered:
        expect(page).to_have_url(re.compile(re.escape("?" + urlencode({"q": text})) + "$"))


def test_the_search_box_takes_the_query_syntax(page, live_server):
    bin_id = live_server.create_bin("search-bin")
    sample = build_sample("github", secret="s", event="push", at=datetime.now(UTC))
    github = capture(live_server, bin_id, "/gh", content=sample.body, headers=dict(sample.headers))
    zipped = capture(
        live_server,
        bin_id,
        "/orders/7",
        content=gzip.compress(b'{"note": "Paid In Full"}'),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json", "X-Shop": "Tea-House"},
    )
    plain = capture(live_server, bin_id, "/other", content=b"nothing here")
    page.goto(f"/bins/{bin_id}")
    expect(page.locator(f"#req-{plain}")).to_be_visible()

    search(page, "provider:github")
    expect(page.locator(f"#req-{github}")).to_be_visible()
    expect(page.locator(f"#req-{zipped}")).to_have_count(0)
    assert "q=provider" in page.url

    search(page, '"paid in full"')  # inside a gzip body, another case
    expect(page.locator(f"#req-{zipped}")).to_be_visible()
    expect(page.locator(f"#req-{github}")).to_have_count(0)
    expect(page.locator(f"#req-{plain}")).to_have_count(0)

    search(page, "header:x-shop=tea-* path:/orders/*")
    expect(page.locator(f"#req-{zipped}")).to_be_visible()
    expect(page.locator(f"#req-{plain}")).to_have_count(0)

    search(page, "colour:blue", answered=False)  # a 400: the list and the URL stay
    expect(page.locator("#flash")).to_contain_text("colour")
