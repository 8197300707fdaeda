"""The bin page's Settings section, pins and notes, replay targets without a scheme and the
retry of a failed delivery (views/pages/settings.py, views/request_meta.py), both backends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from targets import RecordingTarget

from inspector import store
from inspector.bins import with_default_scheme
from inspector.store import cleanup, pins

HTMX = {"HX-Request": "true"}


@pytest.fixture
def target():
    server = RecordingTarget().start()
    yield server
    server.stop()


def capture(client, bin_id, path="/x", body=b"{}"):
    response = client.post(f"/h/{bin_id}{path}", data=body, headers={"Content-Type": "application/json"})
    return response.json["request_id"] if response.is_json else None


def capture_id_of(client, bin_id):
    return client.get(f"/api/bins/{bin_id}/requests?limit=1").json["requests"][0]["id"]


def post(client, path, **form):
    return client.post(path, data=form, headers=HTMX)


def error_of(html: str) -> str:
    found = re.search(r'class="form-error" role="alert">([^<]*)<', html)
    return found.group(1) if found else ""


# --- settings -----------------------------------------------------------------------------


def test_bin_page_has_lazy_settings_section_and_count_and_listen_command(client, bin_id):
    html = client.get(f"/bins/{bin_id}").text
    assert f'hx-get="/bins/{bin_id}/settings?open=1"' in html
    assert "0 of 1000 kept" in html
    assert f"hookloupe listen http://localhost/bins/{bin_id} --to http://localhost:3000" in html
    panel = client.get(f"/bins/{bin_id}/settings?open=1").text
    assert '<details id="settings" class="panel settings-panel" open>' in panel


def test_response_form_saves_and_captures_are_answered_with_it(client, bin_id):
    response = post(
        client,
        f"/bins/{bin_id}/settings/response",
        status="418",
        headers="X-Teapot: yes\r\n\r\nX-Two:  2",
        body="short and stout",
        delay_ms="0",
    )
    assert response.status_code == 200 and "Saved" in response.text
    assert response.headers["HX-Trigger"] == "hookloupe-activity-changed"
    answer = client.post(f"/h/{bin_id}/a", data=b"x")
    assert answer.status_code == 418 and answer.data == b"short and stout"
    assert answer.headers["X-Teapot"] == "yes" and answer.headers["X-Two"] == "2"
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_response_form_cors_adds_headers_and_turns_off(client, bin_id):
    post(client, f"/bins/{bin_id}/settings/response", status="200", headers="", body="", default_body="1", cors="1")
    preflight = client.options(f"/h/{bin_id}/a")
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Headers"] == "*"
    panel = client.get(f"/bins/{bin_id}/settings").text
    assert re.search(r'name="cors" value="1"\s*checked', panel)
    assert "Access-Control" not in panel.split('id="settings-headers"')[1].split("</textarea>")[0]
    post(client, f"/bins/{bin_id}/settings/response", status="200", headers="", body="", default_body="1")
    assert "Access-Control-Allow-Origin" not in client.post(f"/h/{bin_id}/a").headers
    assert client.post(f"/h/{bin_id}/a").is_json  # default body: the JSON acknowledgement


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"status": "99"}, "response.status must be an integer from 200 to 599"),
        ({"status": "abc"}, "response.status must be an integer from 200 to 599"),
        ({"status": "200", "delay_ms": "99999"}, "response.delay_ms must be an integer from 0 to 30000"),
        ({"status": "200", "headers": "no colon here"}, "response headers, line 1: write it as “Name: value”"),
        ({"status": "200", "headers": "Content-Length: 5"}, "set or dropped by the server"),
        ({"status": "200", "headers": "Bad Name: x"}, "is not a valid HTTP token"),
    ],
)
def test_response_form_refuses_bad_input_with_the_reason(client, bin_id, form, reason):
    response = post(client, f"/bins/{bin_id}/settings/response", **form)
    assert response.status_code == 400
    assert reason in error_of(response.text)
    assert client.get(f"/api/bins/{bin_id}").json["response"]["status"] == 200  # nothing saved


def test_response_form_error_shows_what_was_sent_escaped(client, bin_id):
    response = post(client, f"/bins/{bin_id}/settings/response", status="1", body="<script>x</script>")
    assert response.status_code == 400
    assert "&lt;script&gt;x&lt;/script&gt;" in response.text and "<script>x" not in response.text


def test_retention_form_saves_limit_and_expiry(app, client, bin_id):
    response = post(client, f"/bins/{bin_id}/settings/retention", max_requests="2", expires="7d")
    assert response.status_code == 200
    assert 'id="bin-count"' in response.text and 'hx-swap-oob="true"' in response.text
    shown = client.get(f"/api/bins/{bin_id}").json
    assert shown["max_requests"] == 2
    expires = datetime.fromisoformat(shown["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    post(client, f"/bins/{bin_id}/settings/retention", max_requests="2", expires="keep")
    assert client.get(f"/api/bins/{bin_id}").json["expires_at"] == shown["expires_at"]
    post(client, f"/bins/{bin_id}/settings/retention", max_requests="2", expires="never")
    assert client.get(f"/api/bins/{bin_id}").json["expires_at"] is None


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"max_requests": "0"}, "max_requests must be an integer from 1 to 100000"),
        ({"max_requests": "lots"}, "max_requests must be an integer from 1 to 100000"),
        ({"max_requests": "5", "expires": "1y"}, "expiry must be one of"),
    ],
)
def test_retention_form_refuses_bad_input(client, bin_id, form, reason):
    response = post(client, f"/bins/{bin_id}/settings/retention", **form)
    assert response.status_code == 400 and reason in error_of(response.text)


def test_count_line_says_when_the_bin_is_at_its_limit(client, bin_id):
    post(client, f"/bins/{bin_id}/settings/retention", max_requests="2", expires="keep")
    capture(client, bin_id)
    assert "1 of 2 kept" in client.get(f"/bins/{bin_id}/settings/count").text
    capture(client, bin_id)
    line = client.get(f"/bins/{bin_id}/settings/count").text
    assert "2 of 2 kept" in line and "the oldest captures are dropped as new ones arrive" in line


def test_handshakes_form(client, bin_id):
    assert post(client, f"/bins/{bin_id}/settings/handshakes").status_code == 200
    assert client.get(f"/api/bins/{bin_id}").json["handshakes"] is False
    post(client, f"/bins/{bin_id}/settings/handshakes", handshakes="1")
    assert client.get(f"/api/bins/{bin_id}").json["handshakes"] is True


def test_public_base_form_saves_clears_and_refuses(client, bin_id):
    response = post(client, f"/bins/{bin_id}/settings/public-base", public_base_url="https://hooks.example.com/")
    assert response.status_code == 200
    assert client.get(f"/api/bins/{bin_id}").json["public_base_url"] == "https://hooks.example.com"
    response = post(client, f"/bins/{bin_id}/settings/public-base", public_base_url="ftp://x")
    assert response.status_code == 400 and "public_base_url must be an absolute" in error_of(response.text)
    post(client, f"/bins/{bin_id}/settings/public-base", public_base_url="")
    assert client.get(f"/api/bins/{bin_id}").json["public_base_url"] is None


def test_settings_saves_are_in_the_activity_log(client, bin_id):
    post(client, f"/bins/{bin_id}/settings/handshakes", handshakes="1")
    entries = client.get(f"/api/bins/{bin_id}/activity").json["activity"]
    assert entries[0]["action"] == "settings" and entries[0]["detail"] == "handshakes on"


def test_settings_mutations_refuse_non_htmx_posts(client, bin_id):
    response = client.post(f"/bins/{bin_id}/settings/handshakes", data={"handshakes": "1"})
    assert response.status_code == 403


# --- pins and notes -----------------------------------------------------------------------


def test_pinned_capture_survives_clear_all(client, bin_id):
    first, second = capture(client, bin_id), capture(client, bin_id)
    response = post(client, f"/bins/{bin_id}/requests/{first}/pin", pinned="1")
    assert response.status_code == 200 and "Pinned" in response.text
    assert f'id="req-{first}" class="request-row pinned" hx-swap-oob="outerHTML"' in response.text
    cleared = client.delete(f"/bins/{bin_id}/requests", headers=HTMX)
    assert f'id="req-{first}"' in cleared.text and f'id="req-{second}"' not in cleared.text
    assert client.delete(f"/api/bins/{bin_id}/requests").status_code == 204
    ids = [item["id"] for item in client.get(f"/api/bins/{bin_id}/requests").json["requests"]]
    assert ids == [first]


def test_pinned_capture_survives_pruning(app, client, bin_id):
    oldest = capture(client, bin_id)
    client.patch(f"/api/bins/{bin_id}/requests/{oldest}", json={"pinned": True})
    for _ in range(4):
        capture(client, bin_id)
    client.patch(f"/api/bins/{bin_id}", json={"max_requests": 2})
    with app.app_context():
        counts = cleanup.prune(datetime.now(UTC), default_max=1000, ttl_days=0)
    assert counts["captures"] == 2  # pinned ones count toward the limit, but are never dropped
    listed = client.get(f"/api/bins/{bin_id}/requests").json["requests"]
    assert len(listed) == 3 and listed[-1]["id"] == oldest and listed[-1]["pinned"] is True


def test_deleting_the_bin_deletes_pinned_captures(app, client, bin_id):
    pinned = capture(client, bin_id)
    client.patch(f"/api/bins/{bin_id}/requests/{pinned}", json={"pinned": True})
    assert client.delete(f"/api/bins/{bin_id}").status_code == 204
    with app.app_context():
        assert store.count_captures(bin_id) == 0


def test_unpin_from_the_page(client, bin_id):
    capture_id = capture(client, bin_id)
    post(client, f"/bins/{bin_id}/requests/{capture_id}/pin", pinned="1")
    response = post(client, f"/bins/{bin_id}/requests/{capture_id}/pin", pinned="0")
    assert "Unpinned." in response.text
    assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["pinned"] is False


def test_pins_are_bounded_per_bin(app, client, bin_id, monkeypatch):
    monkeypatch.setattr(pins, "MAX_PINNED", 1)
    first, second = capture(client, bin_id), capture(client, bin_id)
    assert client.patch(f"/api/bins/{bin_id}/requests/{first}", json={"pinned": True}).status_code == 200
    response = client.patch(f"/api/bins/{bin_id}/requests/{second}", json={"pinned": True})
    assert response.status_code == 400 and "at most 1 pinned" in response.json["error"]
    page = post(client, f"/bins/{bin_id}/requests/{second}/pin", pinned="1")
    assert page.status_code == 400 and "at most 1 pinned" in error_of(page.text)


def test_note_is_saved_escaped_in_detail_and_row(client, bin_id):
    capture_id = capture(client, bin_id)
    note = '<b>check</b> the retry & its "headers" before friday\'s deploy please, thanks'
    response = post(client, f"/bins/{bin_id}/requests/{capture_id}/note", note=note)
    assert response.status_code == 200 and "Note saved." in response.text
    assert "<b>check" not in response.text and "&lt;b&gt;check&lt;/b&gt;" in response.text
    detail = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    assert 'id="pin-note"' in detail and "&lt;b&gt;check" in detail
    row = client.get(f"/bins/{bin_id}").text.split(f'id="req-{capture_id}"')[1].split("</li>")[0]
    assert '<span class="row-note">&lt;b&gt;check&lt;/b&gt; the retry' in row and "…" in row
    assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["note"] == note


def test_note_refuses_long_or_multiline_text(client, bin_id):
    capture_id = capture(client, bin_id)
    response = post(client, f"/bins/{bin_id}/requests/{capture_id}/note", note="x" * 501)
    assert response.status_code == 400 and "at most 500" in error_of(response.text)
    response = client.patch(f"/api/bins/{bin_id}/requests/{capture_id}", json={"note": "a\nb"})
    assert response.status_code == 400 and "one line" in response.json["error"]


def test_patch_api_sets_and_clears_pin_and_note(client, bin_id):
    capture_id = capture(client, bin_id)
    url = f"/api/bins/{bin_id}/requests/{capture_id}"
    shown = client.patch(url, json={"pinned": True, "note": "  keep me  "}).json
    assert shown["id"] == capture_id and shown["pinned"] is True and shown["note"] == "keep me"
    assert "body_base64" in shown  # the Request shape
    shown = client.patch(url, json={"note": None}).json
    assert shown["pinned"] is True and shown["note"] is None
    summary = client.get(f"/api/bins/{bin_id}/requests").json["requests"][0]
    assert summary["pinned"] is True and summary["note"] is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [({"pinned": "yes"}, "pinned must be true or false"), ({"colour": 1}, "unknown field"), ({"note": 5}, "note must")],
)
def test_patch_api_refuses_bad_fields(client, bin_id, body, reason):
    capture_id = capture(client, bin_id)
    response = client.patch(f"/api/bins/{bin_id}/requests/{capture_id}", json=body)
    assert response.status_code == 400 and reason in response.json["error"]


def test_patch_api_unknown_capture_is_404(client, bin_id):
    assert client.patch(f"/api/bins/{bin_id}/requests/999", json={"pinned": True}).status_code == 404


# --- replay -------------------------------------------------------------------------------


def test_default_scheme_is_http_for_host_port_path():
    assert with_default_scheme("localhost:3000/x") == "http://localhost:3000/x"
    assert with_default_scheme("https://a.example/") == "https://a.example/"
    assert with_default_scheme("/only/a/path") == "/only/a/path"
    assert with_default_scheme("") == "" and with_default_scheme(None) is None


def test_replay_form_accepts_host_port_without_scheme(client, bin_id, target):
    capture_id = capture(client, bin_id, path="/in")
    response = post(client, f"/bins/{bin_id}/requests/{capture_id}/replay", url=f"127.0.0.1:{target.port}/x")
    assert response.status_code == 200
    (received,) = target.wait_for(1)
    assert received.path == "/x/in"
    assert f"http://127.0.0.1:{target.port}/x/in" in response.text


def test_api_replay_accepts_host_port_without_scheme(client, bin_id, target):
    capture_id = capture(client, bin_id)
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": f"localhost:{target.port}"})
    assert response.status_code == 201 and response.json["url"].startswith(f"http://localhost:{target.port}")


def test_retry_resends_a_failed_delivery_to_the_same_url(app, client, bin_id, target):
    target.status = 503
    capture_id = capture(client, bin_id, path="/retry-me", body=b'{"n": 1}')
    post(client, f"/bins/{bin_id}/requests/{capture_id}/replay", url=target.url + "/base")
    deliveries = client.get(f"/bins/{bin_id}/requests/{capture_id}/deliveries", headers=HTMX).text
    (failed_id,) = re.findall(r'/deliveries/(\d+)/retry"', deliveries)
    target.status = 200
    response = post(client, f"/bins/{bin_id}/requests/{capture_id}/deliveries/{failed_id}/retry")
    assert response.status_code == 200 and f"retry of delivery #{failed_id}" in response.text
    first, again = target.wait_for(2)
    assert again.path == first.path == "/base/retry-me" and again.body == first.body == b'{"n": 1}'
    listed = client.get(f"/bins/{bin_id}/requests/{capture_id}/deliveries", headers=HTMX).text
    assert len(re.findall(r'/deliveries/\d+/retry"', listed)) == 1  # the 200 one has no Retry


def test_retry_of_another_captures_delivery_is_404(client, bin_id, target):
    one, two = capture(client, bin_id), capture(client, bin_id)
    client.post(f"/api/bins/{bin_id}/requests/{one}/replay", json={"url": target.url})
    delivery_id = client.get(f"/api/bins/{bin_id}/requests/{one}/deliveries").json["deliveries"][0]["id"]
    assert post(client, f"/bins/{bin_id}/requests/{two}/deliveries/{delivery_id}/retry").status_code == 404


# --- times --------------------------------------------------------------------------------


def test_rows_and_detail_carry_iso_times_with_utc_text(client, bin_id):
    capture_id = capture(client, bin_id)
    page = client.get(f"/bins/{bin_id}?request={capture_id}").text
    row = page.split(f'id="req-{capture_id}"')[1].split("</li>")[0]
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>', row)
