"""The HTML pages and fragments (inspector.views.pages) through the test client."""

from __future__ import annotations

import gzip
import hashlib
import hmac as hmac_module
import html as html_module
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import read_stream
from sqlalchemy import insert
from targets import RecordingTarget

from inspector import store
from inspector.db import db
from inspector.models import Capture, Delivery
from inspector.signing.samples import build_sample
from inspector.views import pages as pages_view
from inspector.views.pages import context as page_context

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HTMX = {"HX-Request": "true"}
HOSTILE = (
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    '<div hx-get="/api/bins" hx-trigger="load">',
)


class Elements(HTMLParser):
    """Every start tag with its attributes, and each text run with whether an ancestor carries
    hx-disable (void elements never enter the stack)."""

    VOID: ClassVar = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.texts: list[tuple[str, bool]] = []
        self._stack: list[bool] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in self.VOID:
            self._stack.append("hx-disable" in attributes)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        self.texts.append((data, any(self._stack)))


def assert_no_hostile_markup(html: str) -> None:
    """The hostile values never became tags or attributes, and show only as text inside an
    hx-disable container."""
    for value in HOSTILE:
        assert value not in html
    page = Elements(html)
    for tag, attrs in page.tags:
        assert tag != "img", attrs
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs
        assert not any(name.startswith("on") for name in attrs), attrs
        assert "style" not in attrs, attrs
        for name in ("hx-get", "hx-post", "hx-delete", "sse-connect"):
            if name in attrs:
                assert attrs[name].startswith("/bins/"), attrs
        if "hx-trigger" in attrs:  # only the facets' own fixed trigger list
            assert attrs.get("id") == "facets", attrs
            assert attrs["hx-trigger"].startswith("hookloupe-counts-changed from:body, "), attrs
    hostile_texts = [(text, disabled) for text, disabled in page.texts if "__pwned" in text or "hx-get" in text]
    assert hostile_texts, "the hostile values should be shown (as text)"
    assert all(disabled for _, disabled in hostile_texts), hostile_texts


def capture(client, bin_id: str, path: str = "/hook", **kwargs) -> int:
    response = client.post(f"/h/{bin_id}{path}", **kwargs)
    assert response.status_code == 200
    return response.json["request_id"]


def hostile_capture(client, bin_id: str) -> int:
    return capture(
        client,
        bin_id,
        path="/" + HOSTILE[0],
        query_string="q=" + HOSTILE[1] + "&" + HOSTILE[2] + "=1",
        headers={"X-Evil": HOSTILE[2], "Content-Type": "text/html"},
        data=" ".join(HOSTILE).encode(),
    )


def row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li id="req-(\d+)" class="request-row">', html)]


# --- home ------------------------------------------------------------------------------------


def test_home_renders_the_create_form_and_recent_list(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'hx-post="/bins"' in response.text
    assert 'id="recent-bins"' in response.text


def test_pages_carry_csp_and_nosniff(client, bin_id):
    for url in ("/", f"/bins/{bin_id}", "/bins/no-such-bin"):
        response = client.get(url)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_style_or_handlers(client, bin_id):
    capture(client, bin_id)
    for url in ("/", f"/bins/{bin_id}", f"/bins/{bin_id}?request=1"):
        html = client.get(url).text
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
        assert "<style" not in html
        assert not [
            attrs for _, attrs in Elements(html).tags if "style" in attrs or any(n.startswith("on") for n in attrs)
        ]


def test_htmx_is_configured_strictly_and_served_locally(client):
    html = client.get("/").text
    assert '"allowEval": false' in html and '"allowScriptTags": false' in html
    assert '"selfRequestsOnly": true' in html and '"includeIndicatorStyles": false' in html
    for src in re.findall(r'<script src="([^"]+)"', html):
        with client.get(src) as script:
            assert script.status_code == 200


def test_vendored_scripts_ship_with_their_licences():
    vendor = TEMPLATES.parent / "static" / "vendor"
    assert (vendor / "htmx-2.0.11" / "LICENSE").is_file()
    assert (vendor / "htmx-ext-sse-2.2.4" / "LICENSE").is_file()


# --- creating bins ---------------------------------------------------------------------------


def test_create_with_a_custom_name_redirects_to_the_bin(client):
    response = client.post("/bins", data={"name": "my-hooks"}, headers=HTMX)
    assert response.status_code == 201
    assert response.headers["HX-Redirect"] == "/bins/my-hooks"
    assert client.get("/bins/my-hooks").status_code == 200


def test_create_without_a_name_makes_a_random_bin(client):
    response = client.post("/bins", data={"name": ""}, headers=HTMX)
    bin_id = response.headers["HX-Redirect"].rsplit("/", 1)[1]
    assert len(bin_id) >= 16
    assert client.get(f"/bins/{bin_id}").status_code == 200


def test_create_with_a_bad_name_explains_the_rule(client):
    response = client.post("/bins", data={"name": "No Way!"}, headers=HTMX)
    assert response.status_code == 400
    assert 'id="create-error"' in response.text
    assert "lowercase letters, digits" in response.text


def test_create_with_a_taken_name_says_so(client, bin_id):
    response = client.post("/bins", data={"name": bin_id}, headers=HTMX)
    assert response.status_code == 409
    assert "already exists" in response.text


def test_create_error_escapes_the_name(client):
    response = client.post("/bins", data={"name": "<b>x"}, headers=HTMX)
    assert "<b>" not in response.text


def test_create_without_htmx_header_is_refused(client):
    response = client.post("/bins", data={"name": "from-elsewhere"})
    assert response.status_code == 403
    assert client.get("/bins/from-elsewhere").status_code == 404


def test_create_from_another_site_is_refused(client):
    headers = HTMX | {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert client.post("/bins", data={"name": "from-elsewhere"}, headers=headers).status_code == 403


def test_same_origin_fetch_metadata_is_accepted(client):
    headers = HTMX | {"Sec-Fetch-Site": "same-origin"}
    assert client.post("/bins", data={"name": "same-site"}, headers=headers).status_code == 201


# --- the bin page ----------------------------------------------------------------------------


def test_unknown_bin_gets_the_404_page(client):
    response = client.get("/bins/no-such-bin")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "No such bin" in response.text


def test_unknown_bin_name_is_not_echoed_as_markup(client):
    response = client.get("/bins/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert response.status_code == 404
    assert "<script>alert" not in response.text


def test_bin_page_shows_capture_url_curl_and_live_stream(client, bin_id):
    html = client.get(f"/bins/{bin_id}").text
    assert f'<code id="capture-url">http://localhost/h/{bin_id}</code>' in html
    assert f"curl -X POST 'http://localhost/h/{bin_id}/hello" in html
    assert f'sse-connect="/bins/{bin_id}/stream?after=0"' in html
    assert 'id="live-status"' in html
    assert 'data-copy="capture-url"' in html


def test_bin_page_uses_base_url_when_configured(app, client, bin_id):
    app.config["BASE_URL"] = "https://hooks.example.com"
    assert f"https://hooks.example.com/h/{bin_id}</code>" in client.get(f"/bins/{bin_id}").text


def test_bin_page_lists_captures_newest_first(client, bin_id):
    first, second = capture(client, bin_id), capture(client, bin_id, path="/two")
    html = client.get(f"/bins/{bin_id}").text
    assert row_ids(html) == [second, first]
    assert f"stream?after={second}" in html


def test_empty_bin_shows_the_empty_note(client, bin_id):
    assert "No requests yet" in client.get(f"/bins/{bin_id}").text


def test_bin_page_is_not_cached(client, bin_id):
    assert client.get(f"/bins/{bin_id}").headers["Cache-Control"] == "no-store"


def test_row_shows_method_path_size_and_type(client, bin_id):
    capture(client, bin_id, path="/orders", data=b"x" * 2048, headers={"Content-Type": "text/csv"})
    html = client.get(f"/bins/{bin_id}").text
    assert '<span class="method">POST</span>' in html
    assert '<span class="path">/orders</span>' in html
    assert "2.0 KiB" in html
    assert '<span class="type">text/csv</span>' in html


# --- pagination ------------------------------------------------------------------------------


def test_pagination_first_page_then_older_pages(client, bin_id):
    ids = [capture(client, bin_id, data=b"%d" % n) for n in range(120)]
    newest_first = ids[::-1]
    page = client.get(f"/bins/{bin_id}").text
    assert row_ids(page) == newest_first[:50]
    cursor = newest_first[49]
    assert f'hx-get="/bins/{bin_id}/requests?before={cursor}"' in page

    second = client.get(f"/bins/{bin_id}/requests?before={cursor}", headers=HTMX).text
    assert row_ids(second) == newest_first[50:100]
    assert f"before={newest_first[99]}" in second

    last = client.get(f"/bins/{bin_id}/requests?before={newest_first[99]}", headers=HTMX).text
    assert row_ids(last) == newest_first[100:]
    assert 'id="older"' not in last


def test_exactly_one_page_has_no_older_link(client, bin_id):
    for _ in range(50):
        capture(client, bin_id)
    assert 'id="older"' not in client.get(f"/bins/{bin_id}").text


def test_bin_with_ten_thousand_captures_renders_one_page(app, client, bin_id):
    """Only one page of rows is rendered however large the bin (speed itself is measured by
    the benchmark, not asserted here)."""
    row = {
        "bin_id": bin_id,
        "method": "POST",
        "path": "/bulk",
        "query_string": "",
        "headers": [],
        "remote_addr": "127.0.0.1",
        "content_type": "text/plain",
        "body": b"x" * 100,
        "body_size": 100,
        "body_truncated": False,
        "received_at": datetime.now(UTC),
    }
    with app.app_context():
        db.session.execute(insert(Capture), [row] * 10_000)
        db.session.commit()
    html = client.get(f"/bins/{bin_id}").text
    assert len(row_ids(html)) == 50
    assert 'id="older"' in html


def test_older_page_without_javascript_is_a_full_page_and_not_live(client, bin_id):
    ids = [capture(client, bin_id) for _ in range(3)]
    html = client.get(f"/bins/{bin_id}?before={ids[-1]}").text
    assert row_ids(html) == ids[-2::-1]
    assert "sse-connect" not in html


# --- detail pane -----------------------------------------------------------------------------


def test_detail_fragment_for_htmx(client, bin_id):
    capture_id = capture(
        client,
        bin_id,
        path="/p",
        query_string="a=1&a=2",
        data=b'{"k": [1]}',
        headers={"Content-Type": "application/json", "X-Trace": "abc"},
    )
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX)
    assert response.status_code == 200
    html = response.text
    assert html.lstrip().startswith(f'<section id="detail" class="detail-pane" data-capture-id="{capture_id}"')
    assert "<html" not in html
    assert f"<code>/h/{bin_id}/p</code>" in html
    assert html.count("<tr><td>a</td>") == 2
    assert "<td>X-Trace</td><td>abc</td>" in html
    assert "<summary>JSON</summary>" in html
    assert f'href="/api/bins/{bin_id}/requests/{capture_id}/raw"' in html
    assert "HX-Request" in response.headers["Vary"].split(", ")


def test_detail_without_htmx_is_the_whole_page_with_the_pane_open(client, bin_id):
    capture_id = capture(client, bin_id)
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}")
    assert "<html" in response.text
    assert f'data-capture-id="{capture_id}"' in response.text
    assert "HX-Request" in response.headers["Vary"].split(", ")


def test_request_query_argument_opens_the_detail(client, bin_id):
    capture_id = capture(client, bin_id)
    assert f'data-capture-id="{capture_id}"' in client.get(f"/bins/{bin_id}?request={capture_id}").text


def test_detail_of_a_capture_in_another_bin_is_404(client, bin_id):
    capture_id = capture(client, bin_id)
    client.post("/api/bins", json={"name": "other-bin"})
    assert client.get(f"/bins/other-bin/requests/{capture_id}", headers=HTMX).status_code == 404


def test_detail_shows_decoded_gzip_body(client, bin_id):
    body = gzip.compress(b'{"zipped": true}')
    capture_id = capture(
        client, bin_id, data=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    assert "<summary>JSON (decoded)</summary>" in html
    assert "&#34;zipped&#34;: true" in html


def test_detail_shows_form_fields_and_multipart_parts(client, bin_id):
    form_id = capture(client, bin_id, data=b"a=1&a=2", headers={"Content-Type": "application/x-www-form-urlencoded"})
    html = client.get(f"/bins/{bin_id}/requests/{form_id}", headers=HTMX).text
    assert "<summary>Form fields</summary>" in html
    multipart = b'--b1\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\n\r\nhi\r\n--b1--\r\n'
    part_id = capture(client, bin_id, data=multipart, headers={"Content-Type": "multipart/form-data; boundary=b1"})
    html = client.get(f"/bins/{bin_id}/requests/{part_id}", headers=HTMX).text
    assert "<summary>Multipart parts</summary>" in html
    assert "<td>x.txt</td>" in html


def test_detail_shows_the_truncated_flag(app, client, bin_id):
    app.config["MAX_BODY_BYTES"] = 8
    response = client.post(f"/h/{bin_id}", data=b"0123456789abcdef")
    assert response.status_code == 413
    html = client.get(f"/bins/{bin_id}/requests/{response.json['request_id']}", headers=HTMX).text
    assert "<dt>Truncated</dt>" in html
    assert "only the first 8 bytes were stored" in html


def test_detail_of_empty_body_says_no_body(client, bin_id):
    capture_id = capture(client, bin_id)
    assert "No body." in client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text


# --- hostile data ----------------------------------------------------------------------------


def test_hostile_values_are_escaped_in_the_list(client, bin_id):
    hostile_capture(client, bin_id)
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}").text)


def test_hostile_values_are_escaped_in_the_detail(client, bin_id):
    capture_id = hostile_capture(client, bin_id)
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    assert_no_hostile_markup(html)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html


def test_hostile_values_are_escaped_in_the_full_page_detail(client, bin_id):
    capture_id = hostile_capture(client, bin_id)
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}?request={capture_id}").text)


def test_hostile_multipart_and_form_values_are_escaped(client, bin_id):
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="<script>window.__pwned=1</script>"; '
        b'filename="<img src=x onerror=\\"window.__pwned=2\\">"\r\n\r\n<div hx-get="/api/bins" hx-trigger="load">\r\n--b--\r\n'
    )
    capture_id = capture(client, bin_id, data=multipart, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text)


# --- the page's event stream -----------------------------------------------------------------


def test_stream_sends_new_rows_as_html_fragments(client, bin_id, fast_stream):
    capture_id = capture(client, bin_id, path="/live")
    response = client.get(f"/bins/{bin_id}/stream?after=0")
    assert response.mimetype == "text/event-stream"
    text = read_stream(response, f'id="req-{capture_id}"')
    assert f"id: {capture_id}\nevent: request\ndata: " in text
    assert f'<li id="req-{capture_id}" class="request-row">' in text
    assert '<span class="path">/live</span>' in text


def test_stream_resumes_after_last_event_id(client, bin_id, fast_stream):
    first, second = capture(client, bin_id), capture(client, bin_id)
    response = client.get(f"/bins/{bin_id}/stream?after=0", headers={"Last-Event-ID": str(first)})
    text = read_stream(response, f'id="req-{second}"')
    assert f'id="req-{first}"' not in text
    assert f'id="req-{second}"' in text


def test_stream_escapes_hostile_values(client, bin_id, fast_stream):
    capture_id = hostile_capture(client, bin_id)
    text = read_stream(client.get(f"/bins/{bin_id}/stream?after=0"), f'id="req-{capture_id}"')
    html = "".join(line[len("data: ") :] + "\n" for line in text.splitlines() if line.startswith("data: "))
    assert_no_hostile_markup(html)


def test_stream_of_unknown_bin_is_404(client):
    assert client.get("/bins/no-such-bin/stream").status_code == 404


# --- deleting --------------------------------------------------------------------------------


def test_delete_one_empties_the_pane_and_removes_the_row(app, client, bin_id):
    keep, gone = capture(client, bin_id), capture(client, bin_id)
    response = client.delete(f"/bins/{bin_id}/requests/{gone}", headers=HTMX)
    assert response.status_code == 200
    assert '<section id="detail" class="detail-pane">' in response.text
    assert f'<li id="req-{gone}" hx-swap-oob="delete"></li>' in response.text
    with app.app_context():
        assert store.get_capture(bin_id, gone) is None
        assert store.get_capture(bin_id, keep) is not None


def test_delete_unknown_capture_is_404(client, bin_id):
    assert client.delete(f"/bins/{bin_id}/requests/999", headers=HTMX).status_code == 404


def test_clear_all_returns_the_empty_list_and_pane(app, client, bin_id):
    for _ in range(3):
        capture(client, bin_id)
    response = client.delete(f"/bins/{bin_id}/requests", headers=HTMX)
    assert response.status_code == 200
    assert '<ul id="request-list"' in response.text
    assert "No requests yet" in response.text
    assert 'hx-swap-oob="true"' in response.text
    with app.app_context():
        assert store.count_captures(bin_id) == 0


def test_cross_site_delete_is_refused(app, client, bin_id):
    capture_id = capture(client, bin_id)
    assert client.delete(f"/bins/{bin_id}/requests/{capture_id}").status_code == 403
    cross = HTMX | {"Sec-Fetch-Site": "cross-site"}
    assert client.delete(f"/bins/{bin_id}/requests", headers=cross).status_code == 403
    assert client.delete(f"/bins/{bin_id}/requests", headers=HTMX | {"Sec-Fetch-Site": "same-site"}).status_code == 403
    with app.app_context():
        assert store.count_captures(bin_id) == 1


# --- templates -------------------------------------------------------------------------------


def test_every_partial_states_what_it_expects():
    partials = sorted((TEMPLATES / "partials").glob("_*.html"))
    assert partials
    for path in partials:
        assert path.read_text().startswith("{# expects:"), path.name


def test_templates_never_mark_values_safe():
    for path in TEMPLATES.rglob("*.html"):
        assert "|safe" not in path.read_text().replace(" ", ""), path.name


# --- signatures, filters, secrets, replay, deliveries, forwarding ----------------------------

GITHUB_SECRET = "gh-webhook-secret-0123456789"
CROSS_SITE = HTMX | {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}


def github_capture(
    client,
    bin_id: str,
    *,
    secret: str = GITHUB_SECRET,
    event: str | None = None,
    extra_headers: dict | None = None,
    path: str = "/github",
) -> int:
    sample = build_sample("github", secret=secret, event=event, at=datetime.now(UTC))
    headers = dict(sample.headers) | (extra_headers or {})
    return capture(client, bin_id, path=path, data=sample.body, headers=headers)


def add_secret_via_page(client, bin_id: str, value: str = GITHUB_SECRET, label: str = "gh", provider: str = "github"):
    return client.post(
        f"/bins/{bin_id}/secrets", data={"label": label, "value": value, "provider": provider}, headers=HTMX
    )


def detail_html(client, bin_id: str, capture_id: int) -> str:
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX)
    assert response.status_code == 200
    return response.text


def badge(html: str, capture_id: int) -> str | None:
    row = re.search(rf'<li id="req-{capture_id}" class="request-row">(.*?)</li>', html, re.S).group(1)
    found = re.search(r'<span class="badge verdict (verdict-[a-z-]+)">([^<]*)</span>', row)
    return found and f"{found.group(1)}:{found.group(2)}"


@pytest.fixture
def target():
    server = RecordingTarget().start()
    yield server
    server.stop()


def test_row_shows_provider_event_and_valid_badge(client, bin_id):
    add_secret_via_page(client, bin_id)
    capture_id = github_capture(client, bin_id, event="push")
    html = client.get(f"/bins/{bin_id}").text
    assert badge(html, capture_id) == "verdict-valid:valid"
    assert '<span class="badge provider">GitHub</span>' in html
    assert '<span class="badge event">push</span>' in html


def test_row_badge_says_no_secret_then_invalid_with_a_wrong_secret(client, bin_id):
    capture_id = github_capture(client, bin_id)
    assert badge(client.get(f"/bins/{bin_id}").text, capture_id) == "verdict-no-secret:no secret"
    add_secret_via_page(client, bin_id, value="not-the-right-secret-at-all")
    assert badge(client.get(f"/bins/{bin_id}").text, capture_id) == "verdict-invalid:invalid"


def test_plain_capture_has_no_badges(client, bin_id):
    capture_id = capture(client, bin_id)
    html = client.get(f"/bins/{bin_id}").text
    assert badge(html, capture_id) is None
    assert 'class="badge' not in html.split(f'id="req-{capture_id}"')[1].split("</li>")[0]


def test_verdict_class_comes_only_from_the_fixed_list():
    assert pages_view.verdict_class("valid") == "verdict-valid"
    assert pages_view.verdict_class("none") == ""
    assert pages_view.verdict_class('x" onmouseover="a') == ""


def test_filters_narrow_the_list(client, bin_id):
    add_secret_via_page(client, bin_id)
    valid = github_capture(client, bin_id, event="push")
    forged = github_capture(client, bin_id, event="issues", secret="someone-elses-secret-value")
    plain = capture(client, bin_id, path="/plain")
    list_url = f"/bins/{bin_id}/list"
    assert row_ids(client.get(list_url, headers=HTMX).text) == [plain, forged, valid]
    assert row_ids(client.get(f"{list_url}?provider=github", headers=HTMX).text) == [forged, valid]
    assert row_ids(client.get(f"{list_url}?provider=none", headers=HTMX).text) == [plain]
    assert row_ids(client.get(f"{list_url}?event=push", headers=HTMX).text) == [valid]
    assert row_ids(client.get(f"{list_url}?verdict=invalid", headers=HTMX).text) == [forged]
    assert row_ids(client.get(f"{list_url}?q=plain", headers=HTMX).text) == [plain]
    assert row_ids(client.get(f"/bins/{bin_id}?verdict=valid").text) == [valid]
    response = client.get(f"{list_url}?provider=github&verdict=valid", headers=HTMX)
    assert response.headers["HX-Push-Url"] == f"/bins/{bin_id}?provider=github&verdict=valid"
    assert "No requests match these filters." in client.get(f"{list_url}?event=nothing", headers=HTMX).text


def test_filter_controls_offer_seen_providers_and_statuses(client, bin_id):
    github_capture(client, bin_id)
    capture(client, bin_id)
    html = client.get(f"/bins/{bin_id}?provider=github").text
    assert '<option value="github" selected>GitHub (1)</option>' in html
    assert '<option value="none">no provider (1)</option>' in html
    assert '<option value="no_secret">no secret (1)</option>' in html  # the GitHub capture: no secret stored
    assert f'sse-connect="/bins/{bin_id}/stream?after=2&amp;provider=github"' in html


def test_older_link_keeps_the_filters(client, bin_id, monkeypatch):
    monkeypatch.setattr(page_context, "PAGE_SIZE", 2)
    ids = [github_capture(client, bin_id, event="push") for _ in range(3)]
    capture(client, bin_id)
    html = client.get(f"/bins/{bin_id}/list?event=push", headers=HTMX).text
    assert row_ids(html) == [ids[2], ids[1]]
    assert f'hx-get="/bins/{bin_id}/requests?before={ids[1]}&amp;event=push"' in html
    older = client.get(f"/bins/{bin_id}/requests?before={ids[1]}&event=push", headers=HTMX).text
    assert row_ids(older) == [ids[0]]


def test_stream_with_filters_leaves_out_rows_that_do_not_match(client, bin_id, fast_stream):
    plain = capture(client, bin_id)
    hooked = github_capture(client, bin_id)
    text = read_stream(client.get(f"/bins/{bin_id}/stream?after=0&provider=github"), f'id="req-{hooked}"')
    assert f'id="req-{hooked}"' in text
    assert f'id="req-{plain}"' not in text and f"id: {plain}\n" not in text


def test_stream_rows_carry_their_verdict_badge(client, bin_id, fast_stream):
    add_secret_via_page(client, bin_id)
    capture_id = github_capture(client, bin_id)
    text = read_stream(client.get(f"/bins/{bin_id}/stream?after=0"), f'id="req-{capture_id}"')
    assert '<span class="badge verdict verdict-valid">valid</span>' in text


def test_secret_add_list_delete_never_echoes_the_value(app, client, bin_id):
    response = add_secret_via_page(client, bin_id)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "hookloupe-secrets-changed"
    assert response.text.lstrip().startswith('<details id="secrets"')
    assert GITHUB_SECRET not in response.text
    assert "…6789" in response.text and "Saved secret" in response.text
    page = client.get(f"/bins/{bin_id}").text
    assert GITHUB_SECRET not in page and "Signing secrets (1)" in page
    assert 'type="password"' in page and 'autocomplete="off"' in page
    with app.app_context():
        (secret,) = store.list_secrets(bin_id)
    response = client.delete(f"/bins/{bin_id}/secrets/{secret.id}", headers=HTMX)
    assert response.status_code == 200 and "Signing secrets (0)" in response.text
    assert client.delete(f"/bins/{bin_id}/secrets/{secret.id}", headers=HTMX).status_code == 404


def test_secret_form_errors_do_not_echo_the_value(client, bin_id):
    response = add_secret_via_page(client, bin_id, label="", value="sk_live_should_not_appear")
    assert response.status_code == 400
    assert "label must be" in response.text
    assert "sk_live_should_not_appear" not in response.text
    assert add_secret_via_page(client, bin_id, provider="no-such-provider").status_code == 400


def test_secret_provider_choices_carry_where_to_find_the_secret(client, bin_id):
    html = client.get(f"/bins/{bin_id}").text
    assert re.search(r'<option value="github" data-hint="[^"]+">GitHub</option>', html)


def test_adding_a_secret_verifies_captures_again(client, bin_id):
    capture_id = github_capture(client, bin_id)
    assert badge(client.get(f"/bins/{bin_id}").text, capture_id) == "verdict-no-secret:no secret"
    add_secret_via_page(client, bin_id)
    assert badge(client.get(f"/bins/{bin_id}/list", headers=HTMX).text, capture_id) == "verdict-valid:valid"
    assert "verdict-valid" in detail_html(client, bin_id, capture_id)


def test_detail_shows_provider_docs_evidence_and_verdict(client, bin_id):
    add_secret_via_page(client, bin_id, label="my github")
    capture_id = github_capture(client, bin_id, event="push")
    html = detail_html(client, bin_id, capture_id)
    assert '<section id="signature"' in html
    assert re.search(r'<a href="https://docs\.github\.com[^"]*" rel="noopener noreferrer" target="_blank">', html)
    assert "<dt>Event</dt><dd>push</dd>" in html
    assert "X-GitHub-Event" in html  # evidence
    assert '<span class="badge verdict verdict-valid">valid</span>' in html
    assert "secret “my github”" in html
    assert "matches secret" in html


def test_debugger_shows_expected_and_received_but_never_the_secret(client, bin_id):
    add_secret_via_page(client, bin_id)
    capture_id = github_capture(client, bin_id, secret="a-different-secret-value-xyz")
    html = detail_html(client, bin_id, capture_id)
    assert "Signature debugger" in html
    assert "<dt>Expected signature</dt>" in html and "<dt>Received signature(s)</dt>" in html
    assert "<dt>Signed string (preview)</dt>" in html and "HMAC-SHA256" in html
    assert "Keep it logically awesome." in html  # the signed body preview
    assert GITHUB_SECRET not in html and "a-different-secret-value-xyz" not in html


def test_debug_rows_are_worded():
    rows = dict(
        page_context.debug_rows(
            {
                "received": ["aa", "bb"],
                "matched_index": 1,
                "timestamp_skew_seconds": -3.5,
                "tolerance_seconds": 300,
                "key_interpretation": "whsec",
                "extra_thing": 7,
            }
        )
    )
    assert rows["Received signature(s)"] == "1. aa\n2. bb   ← matched"
    assert rows["Matched signature"] == "number 2 of 2"
    assert rows["Timestamp skew"] == "-3.5 s (timestamp in the future)"
    assert rows["Tolerance"] == "± 300 s"
    assert rows["Key read as"] == "the base64 part after whsec_ decoded"
    assert rows["extra thing"] == "7"


def test_check_now_verifies_against_the_current_time(client, bin_id):
    add_secret_via_page(client, bin_id)
    capture_id = github_capture(client, bin_id)
    html = detail_html(client, bin_id, capture_id)
    assert f'hx-get="/bins/{bin_id}/requests/{capture_id}/signature?at=now"' in html
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}/signature?at=now", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="signature"')
    assert "Checked again as of now" in response.text
    assert "verdict-valid" in response.text
    plain = client.get(f"/bins/{bin_id}/requests/{capture_id}/signature", headers=HTMX).text
    assert "Checked again" not in plain


def test_check_now_reports_expired_for_an_old_timestamped_signature(client, bin_id, monkeypatch):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    client.post(f"/bins/{bin_id}/secrets", data={"label": "sw", "value": secret, "provider": ""}, headers=HTMX)
    sample = build_sample("standard-webhooks", secret=secret, at=datetime.now(UTC))
    capture_id = capture(client, bin_id, data=sample.body, headers=dict(sample.headers))
    assert "verdict-valid" in detail_html(client, bin_id, capture_id)
    later = datetime.now(UTC) + timedelta(hours=1)

    class AnHourLater(datetime):  # "now" for the page: the signature's 5-minute window has passed
        @classmethod
        def now(cls, tz=None):
            return later

    monkeypatch.setattr(pages_view, "datetime", AnHourLater)
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}/signature?at=now", headers=HTMX).text
    monkeypatch.undo()
    assert "verdict-expired" in html and "Timestamp skew" in html
    assert "verdict-valid" in detail_html(client, bin_id, capture_id)  # as of arrival: still valid


def test_handshake_answer_is_shown(app, client, bin_id):
    capture_id = capture(client, bin_id)
    with app.app_context():
        store.get_capture(bin_id, capture_id).handshake = "answered the Slack url_verification challenge"
        db.session.commit()
    assert "Hookloupe answered this handshake: answered the Slack url_verification challenge" in detail_html(
        client, bin_id, capture_id
    )


def test_replay_form_is_prefilled_from_the_capture(client, bin_id):
    capture_id = github_capture(client, bin_id)
    html = detail_html(client, bin_id, capture_id)
    assert f'hx-post="/bins/{bin_id}/requests/{capture_id}/replay"' in html
    assert re.search(r'<textarea id="replay-headers" name="headers"[^>]*>[^<]*X-Github-Event: ping', html, re.I)
    assert 'id="replay-body"' not in html  # loaded on demand
    assert f'data-src="/bins/{bin_id}/requests/{capture_id}/body?view=edit"' in html
    body = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=edit", headers=HTMX).text
    assert "Keep it logically awesome." in body.split('id="replay-body"')[1]
    assert 'name="resign" value="1"' in html and "Re-sign with a fresh timestamp" in html


def test_replay_form_says_binary_bodies_are_sent_as_captured(client, bin_id):
    capture_id = capture(
        client, bin_id, data=b"\xff\xfe\x00binary", headers={"Content-Type": "application/octet-stream"}
    )
    html = detail_html(client, bin_id, capture_id)
    body = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=edit", headers=HTMX).text
    assert 'id="replay-body"' not in html + body
    assert "sent exactly as captured" in body
    assert 'name="resign"' not in html  # no provider detected


def replay(client, bin_id, capture_id, **form):
    return client.post(f"/bins/{bin_id}/requests/{capture_id}/replay", data=form, headers=HTMX)


def test_replay_to_a_real_target_records_and_shows_the_delivery(app, client, bin_id, target):
    capture_id = github_capture(client, bin_id, path="/github")
    html = detail_html(client, bin_id, capture_id)
    headers_text = re.search(r'<textarea id="replay-headers" name="headers"[^>]*>([^<]*)</textarea>', html).group(1)
    response = replay(
        client,
        bin_id,
        capture_id,
        url=target.url + "/in",
        method="",
        headers=html_module.unescape(headers_text).replace("\n", "\r\n"),
    )
    assert response.status_code == 200
    (received,) = target.wait_for(1)
    assert received.path == "/in/github" and received.header("X-GitHub-Event") == "ping"
    assert '<div id="replay-result"' in response.text and "→\n      200" in response.text
    assert '<section id="deliveries" class="deliveries" hx-swap-oob="true">' in response.text
    assert "X-Target" in response.text  # the target's answer headers
    with app.app_context():
        (delivery,) = store.list_deliveries(capture_id)
    assert delivery.kind == "replay" and delivery.note is None  # untouched form: sent as captured
    listed = client.get(f"/bins/{bin_id}/requests/{capture_id}/deliveries", headers=HTMX).text
    assert f'id="delivery-{delivery.id}"' in listed and "{&#34;received&#34;: true}" in listed


def test_replay_with_edits_notes_them(app, client, bin_id, target):
    capture_id = capture(client, bin_id, data=b'{"a": 1}', headers={"Content-Type": "application/json"})
    response = replay(
        client,
        bin_id,
        capture_id,
        url=target.url,
        method="PUT",
        headers="Content-Type: application/json\r\nX-Added: yes",
        body='{"a": 2}',
    )
    assert response.status_code == 200
    (received,) = target.wait_for(1)
    assert received.method == "PUT" and received.body == b'{"a": 2}' and received.header("X-Added") == "yes"
    assert "edited before sending: method, headers, body" in response.text


def test_replay_refuses_bad_urls_and_own_capture_url_inline(client, bin_id):
    capture_id = capture(client, bin_id)
    response = replay(client, bin_id, capture_id, url="ftp://example.com/")
    assert response.status_code == 400 and "http:// or https://" in response.text
    response = replay(client, bin_id, capture_id, url=f"http://localhost/h/{bin_id}")
    assert response.status_code == 400 and "it would loop" in response.text
    assert '<div id="replay-result"' in response.text


def test_replay_refuses_malformed_header_lines(client, bin_id, target):
    capture_id = capture(client, bin_id)
    response = replay(client, bin_id, capture_id, url=target.url, headers="no colon here")
    assert response.status_code == 400 and "header line 1" in response.text
    assert target.received == []


def test_replay_that_cannot_resign_says_why_and_sends_nothing(client, bin_id, target):
    capture_id = github_capture(client, bin_id)  # the bin holds no secret
    response = replay(client, bin_id, capture_id, url=target.url, resign="1")
    assert response.status_code == 400 and "cannot re-sign" in response.text
    assert target.received == []


def test_replay_resigned_with_the_bins_secret(client, bin_id, target):
    add_secret_via_page(client, bin_id)
    capture_id = github_capture(client, bin_id)
    response = replay(client, bin_id, capture_id, url=target.url, resign="1", body='{"edited": true}')
    assert response.status_code == 200, response.text
    (received,) = target.wait_for(1)
    assert received.body == b'{"edited": true}'
    expected = "sha256=" + hmac_module.new(GITHUB_SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.header("X-Hub-Signature-256") == expected


def test_compare_two_deliveries_shows_a_diff(client, bin_id, target):
    capture_id = capture(client, bin_id, data=b"x")
    replay(client, bin_id, capture_id, url=target.url)
    target.status = 500
    replay(client, bin_id, capture_id, url=target.url, method="PATCH")
    listed = client.get(f"/bins/{bin_id}/requests/{capture_id}/deliveries", headers=HTMX).text
    first, second = [int(n) for n in re.findall(r'id="delivery-(\d+)"', listed)]
    assert f'hx-get="/bins/{bin_id}/requests/{capture_id}/compare"' in listed
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}/compare?a={first}&b={second}", headers=HTMX).text
    assert html.lstrip().startswith('<section id="compare"')
    assert '<tr class="changed"><th>Status</th><td>200</td><td>500</td></tr>' in html
    assert "The bodies are identical." in html
    assert "edited before sending: method" in html
    same = client.get(f"/bins/{bin_id}/requests/{capture_id}/compare?a={first}&b={first}", headers=HTMX).text
    assert "Pick two different deliveries." in same
    assert "Pick two deliveries" in client.get(f"/bins/{bin_id}/requests/{capture_id}/compare?a=1", headers=HTMX).text


def add_delivery(app, capture_id, *, status=200, headers=(), body=b"", note=None, url="http://t/"):
    with app.app_context():
        row = store.add_delivery(
            Delivery(
                capture_id=capture_id,
                kind="replay",
                url=url,
                method="POST",
                attempt=1,
                status_code=status,
                error=None,
                elapsed_ms=3,
                response_headers=[list(p) for p in headers],
                response_body=body,
                note=note,
                created_at=datetime.now(UTC),
            )
        )
        return row.id


def test_compare_renders_a_body_diff_with_line_classes(app, client, bin_id):
    capture_id = capture(client, bin_id)
    a = add_delivery(app, capture_id, headers=[("X-Same", "1"), ("X-Gone", "a")], body=b'{"n":1,"k":"v"}')
    b = add_delivery(app, capture_id, headers=[("X-Same", "1"), ("X-New", "b")], body=b'{"n":2,"k":"v"}')
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}/compare?a={a}&b={b}", headers=HTMX).text
    assert '<span class="diff-removed">-  &#34;n&#34;: 1,</span>' in html
    assert '<span class="diff-added">+  &#34;n&#34;: 2,</span>' in html
    assert '<tr class="removed">' in html and '<tr class="added">' in html and '<tr class="same">' in html


def test_deliveries_show_binary_answers_as_hex(app, client, bin_id):
    capture_id = capture(client, bin_id)
    add_delivery(app, capture_id, body=b"\xff\x00\x01")
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}/deliveries", headers=HTMX).text
    assert "00000000  ff 00 01" in html and "shown as hex" in html


def test_forward_settings_save_and_show_state(client, bin_id):
    html = client.get(f"/bins/{bin_id}").text
    assert "Auto-forward: off" in html
    response = client.post(
        f"/bins/{bin_id}/forward", data={"url": "http://127.0.0.1:9/in", "enabled": "1"}, headers=HTMX
    )
    assert response.status_code == 200 and "Auto-forward: on" in response.text
    assert client.get(f"/api/bins/{bin_id}").json["forward"] == {"url": "http://127.0.0.1:9/in", "enabled": True}
    response = client.post(f"/bins/{bin_id}/forward", data={"url": "http://127.0.0.1:9/in"}, headers=HTMX)
    assert "Auto-forward: paused" in response.text
    response = client.post(f"/bins/{bin_id}/forward", data={"url": ""}, headers=HTMX)
    assert "Auto-forward: off" in response.text and client.get(f"/api/bins/{bin_id}").json["forward"] is None


def test_forward_settings_refuse_own_capture_url_and_bad_urls(client, bin_id):
    response = client.post(
        f"/bins/{bin_id}/forward", data={"url": f"http://localhost/h/{bin_id}", "enabled": "1"}, headers=HTMX
    )
    assert response.status_code == 400 and "it would loop" in response.text
    response = client.post(f"/bins/{bin_id}/forward", data={"url": "javascript:alert(1)", "enabled": "1"}, headers=HTMX)
    assert response.status_code == 400 and "http:// or https://" in response.text
    assert client.get(f"/api/bins/{bin_id}").json["forward"] is None


def test_cross_site_posts_to_the_new_routes_are_refused(app, client, bin_id, target):
    capture_id = capture(client, bin_id)
    add_secret_via_page(client, bin_id)
    with app.app_context():
        (secret,) = store.list_secrets(bin_id)
    attempts = [
        ("post", f"/bins/{bin_id}/secrets", {"label": "x", "value": "y" * 20}),
        ("delete", f"/bins/{bin_id}/secrets/{secret.id}", None),
        ("post", f"/bins/{bin_id}/requests/{capture_id}/replay", {"url": target.url}),
        ("post", f"/bins/{bin_id}/forward", {"url": target.url, "enabled": "1"}),
    ]
    for method, url, data in attempts:
        for headers in ({}, CROSS_SITE, HTMX | {"Sec-Fetch-Site": "same-site"}):
            assert getattr(client, method)(url, data=data, headers=headers).status_code == 403, (url, headers)
    with app.app_context():
        assert len(store.list_secrets(bin_id)) == 1
        assert store.list_deliveries(capture_id) == []
    assert target.received == []
    assert client.get(f"/api/bins/{bin_id}").json["forward"] is None


HOSTILE_EVENT_HEADERS = {"X-GitHub-Event": HOSTILE[0], "X-GitHub-Delivery": HOSTILE[1], "X-Evil": HOSTILE[2]}


def test_hostile_event_delivery_id_and_headers_stay_escaped_in_new_fragments(app, client, bin_id, target, fast_stream):
    add_secret_via_page(client, bin_id)
    capture_id = github_capture(client, bin_id, extra_headers=HOSTILE_EVENT_HEADERS, path="/" + HOSTILE[0])
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}").text)
    with app.app_context():  # the page analysed it: the hostile values are its event and delivery id
        row = store.get_capture(bin_id, capture_id)
        assert row.event == HOSTILE[0] and row.delivery_id == HOSTILE[1]
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}/list?provider=github", headers=HTMX).text)
    assert_no_hostile_markup(detail_html(client, bin_id, capture_id))
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}?request={capture_id}").text)
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}/requests/{capture_id}/signature?at=now", headers=HTMX).text)
    text = read_stream(client.get(f"/bins/{bin_id}/stream?after=0&provider=github"), f'id="req-{capture_id}"')
    assert_no_hostile_markup("".join(line[6:] + "\n" for line in text.splitlines() if line.startswith("data: ")))

    for _ in range(2):
        response = replay(client, bin_id, capture_id, url=target.url)
        assert response.status_code == 200
        assert_no_hostile_markup(response.text)  # the URL carries the hostile captured path
    # Deliveries whose answers are hostile (what a target sends back is captured data too).
    hostile_answer = [("X-Answer", HOSTILE[0]), ("X-Img", HOSTILE[1]), ("X-Htmx", HOSTILE[2])]
    a = add_delivery(app, capture_id, headers=hostile_answer, body=" ".join(HOSTILE).encode(), note=HOSTILE[2])
    b = add_delivery(app, capture_id, headers=hostile_answer[:1], body=HOSTILE[1].encode(), url=HOSTILE[0])
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}/requests/{capture_id}/deliveries", headers=HTMX).text)
    assert_no_hostile_markup(client.get(f"/bins/{bin_id}/requests/{capture_id}/compare?a={a}&b={b}", headers=HTMX).text)


def test_detail_shows_the_providers_warning(client, bin_id):
    sample = build_sample("dreamclass", secret="dc-secret-0123456789abcdef", at=datetime.now(UTC))
    capture_id = capture(client, bin_id, data=sample.body, headers=dict(sample.headers))
    html = detail_html(client, bin_id, capture_id)
    assert '<li class="warning">DreamClass signs only the request id' in html
