"""A 10 MiB capture's detail pane stays small: bounded body previews, the rest loaded on demand."""

from __future__ import annotations

import html as html_module
import re

import pytest
from targets import RecordingTarget

from inspector import bodyview, store

HTMX = {"HX-Request": "true"}
TEN_MIB = 10 * 1024 * 1024
HTML_BUDGET = 1_000_000


def capture(client, bin_id: str, body: bytes, content_type: str) -> int:
    response = client.post(f"/h/{bin_id}/big", data=body, headers={"Content-Type": content_type})
    assert response.status_code == 200
    return response.json["request_id"]


def big_json() -> bytes:
    """A one-line JSON document of exactly 10 MiB, full of quotes (each one escapes to 5 bytes)."""
    head, tail = b'{"items": ["', b'"]}'
    return head + b'a", "' * ((TEN_MIB - len(head) - len(tail)) // 5) + b"a" * ((TEN_MIB - 15) % 5) + tail


@pytest.fixture
def target():
    server = RecordingTarget().start()
    yield server
    server.stop()


def test_big_json_is_exactly_ten_mib():
    assert len(big_json()) == TEN_MIB


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/octet-stream"])
def test_detail_of_a_10_mib_capture_is_under_1_mb(client, bin_id, content_type):
    capture_id = capture(client, bin_id, big_json(), content_type)
    fragment = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX)
    page = client.get(f"/bins/{bin_id}?request={capture_id}")
    assert fragment.status_code == page.status_code == 200
    assert len(fragment.data) <= HTML_BUDGET, len(fragment.data)
    assert len(page.data) <= HTML_BUDGET, len(page.data)
    assert "(10.0 MiB)</button>" in fragment.text


def test_detail_offers_the_full_body_and_hex_on_demand(client, bin_id):
    capture_id = capture(client, bin_id, b"x" * (bodyview.PREVIEW_LIMIT + 1), "text/plain")
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    base = f"/bins/{bin_id}/requests/{capture_id}/body"
    assert f'hx-get="{base}?view=0"' in html and ">Load the full body (64.0 KiB)</button>" in html
    assert f'hx-get="{base}?view=1"' in html and ">Show hex (64.0 KiB)</button>" in html
    text = re.search(r'<pre class="body-text body-text">(x*)</pre>', html).group(1)
    assert len(text) == bodyview.PREVIEW_LIMIT  # the text view is a preview


def test_small_body_has_no_load_button(client, bin_id):
    capture_id = capture(client, bin_id, b'{"a": 1}', "application/json")
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    assert "load-body" not in html and "&#34;a&#34;: 1" in html


def test_body_route_answers_one_view_in_full(client, bin_id):
    body = b"line\n" * (bodyview.PREVIEW_LIMIT // 2)
    capture_id = capture(client, bin_id, body, "text/plain")
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=0", headers=HTMX)
    assert response.status_code == 200
    text = re.search(r'<pre class="body-text body-text">(.*?)</pre>', response.text, re.S).group(1)
    assert text == body.decode()
    assert response.text.startswith("{#") is False and 'id="body-view-0"' in response.text
    assert "load-body" not in response.text  # nothing more to load
    hex_view = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=1", headers=HTMX).text
    assert hex_view.count("|line.line.line.l|") > 1000


def test_full_hex_is_bounded_and_says_so(client, bin_id):
    capture_id = capture(client, bin_id, b"\0" * TEN_MIB, "application/octet-stream")
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=0", headers=HTMX)
    assert response.text.count("|................|") == bodyview.FULL_HEX // 16
    assert "Showing the first 1 MiB of 10 MiB." in response.text


@pytest.mark.parametrize("view", ["2", "99", "x", "-1", ""])
def test_body_route_404s_for_a_missing_view(client, bin_id, view):
    capture_id = capture(client, bin_id, b"hello", "text/plain")  # views: text, hex
    assert client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view={view}").status_code == 404


def test_body_route_404s_for_a_missing_capture_or_bin(client, bin_id):
    assert client.get(f"/bins/{bin_id}/requests/999/body?view=0").status_code == 404
    assert client.get("/bins/nope-nope/requests/1/body?view=0").status_code == 404


def test_replay_form_does_not_embed_the_body(client, bin_id):
    capture_id = capture(client, bin_id, b"UNIQUE-BODY-MARKER " * 10, "text/plain")
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    replay_form = html.split('<section id="replay"')[1]
    assert "UNIQUE-BODY-MARKER" not in replay_form and 'id="replay-body"' not in replay_form
    assert f'data-src="/bins/{bin_id}/requests/{capture_id}/body?view=edit"' in replay_form


def test_editable_body_loads_on_demand_with_its_leading_newline(client, bin_id):
    capture_id = capture(client, bin_id, b"\nfirst line kept <b>", "text/plain")
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=edit", headers=HTMX).text
    assert (
        '<textarea id="replay-body" name="body" rows="6" spellcheck="false">\n\nfirst line kept &lt;b&gt;</textarea>'
        in html
    )
    assert "hx-disable" in html


def test_binary_body_is_not_editable(client, bin_id):
    capture_id = capture(client, bin_id, b"\xff\xfe\x00binary", "application/octet-stream")
    html = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=edit", headers=HTMX).text
    assert 'id="replay-body"' not in html and "sent exactly as captured" in html


def replay(client, bin_id, capture_id, **form):
    return client.post(f"/bins/{bin_id}/requests/{capture_id}/replay", data=form, headers=HTMX)


def test_unedited_replay_of_a_large_capture_sends_the_stored_bytes(app, client, bin_id, target):
    body = b"\r\n".join([b"crlf line \xc3\xa9"] * 200_000)  # ~3 MiB, CRLF line endings
    capture_id = capture(client, bin_id, body, "text/plain; charset=utf-8")
    assert replay(client, bin_id, capture_id, url=target.url, method="").status_code == 200
    (received,) = target.wait_for(1)
    assert received.body == body
    with app.app_context():
        (delivery,) = store.list_deliveries(capture_id)
    assert delivery.note is None  # nothing was edited


def test_replay_with_the_loaded_but_untouched_body_sends_the_stored_bytes(client, bin_id, target):
    body = b"\r\nstarts with CRLF\r\nends without"
    capture_id = capture(client, bin_id, body, "text/plain")
    loaded = client.get(f"/bins/{bin_id}/requests/{capture_id}/body?view=edit", headers=HTMX).text
    textarea = re.search(r"<textarea[^>]*>\n(.*?)</textarea>", loaded, re.S).group(1)
    # A browser normalises the textarea to LF lines, then sends them joined by CRLF.
    as_browser_sends = html_module.unescape(textarea).replace("\r\n", "\n").replace("\n", "\r\n")
    assert replay(client, bin_id, capture_id, url=target.url, body=as_browser_sends).status_code == 200
    (received,) = target.wait_for(1)
    assert received.body == body


def test_a_share_link_loads_the_full_body_redacted(client, bin_id):
    """The share page previews a large body like the owner's and loads the rest under the link,
    redacted: a value past the preview is replaced in the full view too."""
    assert client.patch(f"/api/bins/{bin_id}", json={"redact": {"json_paths": ["card"]}}).status_code == 200
    body = b'{"pad": "' + b"p" * bodyview.PREVIEW_LIMIT + b'", "card": "4111-1111-1111-1111"}'
    capture_id = capture(client, bin_id, body, "application/json")
    link = client.post(f"/api/bins/{bin_id}/shares", json={}).json
    base = f"/s/{link['token']}/requests/{capture_id}"
    pane = client.get(base, headers=HTMX).text
    assert f'hx-get="{base}/body?view=0"' in pane and "Load the full body" in pane
    full = client.get(f"{base}/body?view=0", headers=HTMX)
    assert full.status_code == 200 and "load-body" not in full.text
    text = html_module.unescape(re.search(r'<pre class="body-text[^"]*">(.*?)</pre>', full.text, re.S).group(1))
    assert '"card": "[redacted]"' in text and "4111" not in full.text
    assert text.count("p") >= bodyview.PREVIEW_LIMIT  # the whole padding, past the preview
    assert bin_id not in full.text
    assert client.get(f"{base}/body?view=9", headers=HTMX).status_code == 404
    assert client.delete(f"/api/bins/{bin_id}/shares/{link['id']}").status_code == 204
    assert client.get(f"{base}/body?view=0", headers=HTMX).status_code == 404
