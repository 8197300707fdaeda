"""Signing in and out in real chromium against real gunicorn with HOOKLOUPE_PASSWORD set, and a
cross-site page that tries to change a bin with the signed-in browser's cookie."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from conftest import BROWSER_MARKS, LiveServer

PASSWORD = "browser-pw-7Tq"
ADMIN = {"Authorization": "Basic " + base64.b64encode(f"me:{PASSWORD}".encode()).decode()}

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("auth-browser"), env={"HOOKLOUPE_PASSWORD": PASSWORD}).start()
    yield live
    live.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def make_bin(server) -> str:
    response = httpx.post(server.url + "/api/bins", json={}, headers=ADMIN, timeout=10)
    response.raise_for_status()
    return response.json()["id"]


def sign_in(page, password: str = PASSWORD) -> None:
    page.fill("#password", password)
    page.click("#signin-form button[type=submit]")


def secrets_of(server, bin_id: str) -> list[str]:
    response = httpx.get(f"{server.url}/api/bins/{bin_id}/secrets", headers=ADMIN, timeout=10)
    return [item["label"] for item in response.json()["secrets"]]


def test_sign_in_use_the_page_and_sign_out(page, server):
    bin_id = make_bin(server)
    page.goto(f"/bins/{bin_id}")
    expect(page).to_have_url(f"{server.url}/signin?next=/bins/{bin_id}")
    sign_in(page, "not-the-password")
    expect(page.locator("#signin-error")).to_have_text("Wrong password.")
    sign_in(page)
    expect(page).to_have_url(f"{server.url}/bins/{bin_id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    capture_id = httpx.post(f"{server.url}/h/{bin_id}/live", content=b"{}", timeout=10).json()["request_id"]
    expect(page.locator(f"#req-{capture_id}")).to_be_visible()
    # An htmx mutation from the signed-in page carries its CSRF token and goes through.
    page.click("#secrets summary")
    page.fill("#secret-label", "from the page")
    page.fill("#secret-value", "v-123456")
    page.click("#secrets button[type=submit]")
    expect(page.locator("#secrets")).to_contain_text("Saved secret")
    assert secrets_of(server, bin_id) == ["from the page"]
    page.click("#signout")
    expect(page).to_have_url(f"{server.url}/signin")
    page.goto(f"/bins/{bin_id}")
    expect(page).to_have_url(f"{server.url}/signin?next=/bins/{bin_id}")
    assert page.errors == []


class EvilSite:
    """Another origin on the same host (so the browser sends the Lax session cookie along: same
    site, different port) serving a page that posts a form to Hookloupe on load."""

    def __init__(self, target: str) -> None:
        html = (
            "<!doctype html><form id=f method=post action='" + target + "'>"
            "<input name=label value=planted><input name=value value=evil-secret></form>"
            "<script>document.getElementById('f').submit()</script>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_cross_site_form_cannot_change_a_bin_with_the_session_cookie(page, server):
    bin_id = make_bin(server)
    page.goto(f"/bins/{bin_id}")
    sign_in(page)
    expect(page).to_have_url(f"{server.url}/bins/{bin_id}")
    evil = EvilSite(f"{server.url}/bins/{bin_id}/secrets")
    try:
        with page.expect_response(f"{server.url}/bins/{bin_id}/secrets") as posted:
            page.goto(evil.url)
        assert posted.value.status == 403
        # Same site (another port of 127.0.0.1): SameSite=Lax let the cookie go along; the
        # refusal comes from the Origin and CSRF checks.
        assert "hookloupe_session=" in posted.value.request.all_headers().get("cookie", "")
    finally:
        evil.close()
    assert secrets_of(server, bin_id) == []
    # The browser is still signed in: the refusal changed nothing for the user either.
    page.goto(f"/bins/{bin_id}")
    expect(page).to_have_url(f"{server.url}/bins/{bin_id}")
