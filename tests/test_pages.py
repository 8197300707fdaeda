"""The HTML pages and fragments (inspector.views.pages) through the test client."""

from __future__ import annotations

import gzip
import re
import time
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import insert

from inspector import store
from inspector.db import db
from inspector.models import Capture

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

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

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
        assert "hx-trigger" not in attrs, attrs
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
        assert not [attrs for _, attrs in Elements(html).tags if "style" in attrs or any(n.startswith("on") for n in attrs)]


def test_htmx_is_configured_strictly_and_served_locally(client):
    html = client.get("/").text
    assert '"allowEval": false' in html and '"allowScriptTags": false' in html
    assert '"selfRequestsOnly": true' in html and '"includeIndicatorStyles": false' in html
    for src in re.findall(r'<script src="([^"]+)"', html):
        assert client.get(src).status_code == 200


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


def test_bin_with_ten_thousand_captures_renders_one_page_quickly(app, client, bin_id):
    row = {"bin_id": bin_id, "method": "POST", "path": "/bulk", "query_string": "", "headers": [],
           "remote_addr": "127.0.0.1", "content_type": "text/plain", "body": b"x" * 100, "body_size": 100,
           "body_truncated": False, "received_at": datetime.now(timezone.utc)}
    with app.app_context():
        db.session.execute(insert(Capture), [row] * 10_000)
        db.session.commit()
    started = time.monotonic()
    html = client.get(f"/bins/{bin_id}").text
    assert time.monotonic() - started < 2
    assert len(row_ids(html)) == 50
    assert 'id="older"' in html


def test_older_page_without_javascript_is_a_full_page_and_not_live(client, bin_id):
    ids = [capture(client, bin_id) for _ in range(3)]
    html = client.get(f"/bins/{bin_id}?before={ids[-1]}").text
    assert row_ids(html) == ids[-2::-1]
    assert "sse-connect" not in html


# --- detail pane -----------------------------------------------------------------------------


def test_detail_fragment_for_htmx(client, bin_id):
    capture_id = capture(client, bin_id, path="/p", query_string="a=1&a=2", data=b'{"k": [1]}',
                         headers={"Content-Type": "application/json", "X-Trace": "abc"})
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
    assert response.headers["Vary"] == "HX-Request"


def test_detail_without_htmx_is_the_whole_page_with_the_pane_open(client, bin_id):
    capture_id = capture(client, bin_id)
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}")
    assert "<html" in response.text
    assert f'data-capture-id="{capture_id}"' in response.text
    assert response.headers["Vary"] == "HX-Request"


def test_request_query_argument_opens_the_detail(client, bin_id):
    capture_id = capture(client, bin_id)
    assert f'data-capture-id="{capture_id}"' in client.get(f"/bins/{bin_id}?request={capture_id}").text


def test_detail_of_a_capture_in_another_bin_is_404(client, bin_id):
    capture_id = capture(client, bin_id)
    client.post("/api/bins", json={"name": "other-bin"})
    assert client.get(f"/bins/other-bin/requests/{capture_id}", headers=HTMX).status_code == 404


def test_detail_shows_decoded_gzip_body(client, bin_id):
    body = gzip.compress(b'{"zipped": true}')
    capture_id = capture(client, bin_id, data=body,
                         headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    assert "<summary>JSON (decoded)</summary>" in html
    assert "&#34;zipped&#34;: true" in html


def test_detail_shows_form_fields_and_multipart_parts(client, bin_id):
    form_id = capture(client, bin_id, data=b"a=1&a=2",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
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


def read_stream(response, until: str, max_chunks: int = 50) -> str:
    """Collect streamed text until `until` appears, then close (freeing the stream slot)."""
    text = ""
    try:
        for chunk in response.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            max_chunks -= 1
            if until in text or max_chunks == 0:
                break
    finally:
        response.close()
    return text


@pytest.fixture
def fast_stream(app):
    app.config["STREAM_POLL_S"] = 0.01
    app.config["STREAM_MAX_S"] = 2


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
    html = "".join(line[len("data: "):] + "\n" for line in text.splitlines() if line.startswith("data: "))
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
