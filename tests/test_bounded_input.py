"""No input makes a 5xx or a dead page (issue 9): deep JSON, odd charsets, odd numbers, bad
ports, NUL characters and response settings the server could not send. App tests run on
SQLite and PostgreSQL (the `client` fixture), since PostgreSQL refuses what SQLite takes."""

from __future__ import annotations

import hashlib
import hmac
import io
import re

import pytest
from captures import make_capture
from conftest import read_stream

from inspector import bodyview, create_app
from inspector.bins import MAX_ID, InvalidInput, Limits, ascii_int, check_text, is_http_url, parse_response
from inspector.capture.handshakes import answer_handshake
from inspector.delivery.compare import diff_bodies
from inspector.safejson import MAX_DEPTH, JSONLimitError, loads_bounded, nesting_depth
from inspector.signing import providers
from inspector.signing.schemes import Message, SignatureError
from inspector.signing.schemes.message import parse_json, set_field
from inspector.stream import parse_last_event_id
from inspector.views.common import digits_at_most

DEEP = b"[" * 100_000  # RecursionError in json.loads before the bounds
DEEP_VALID = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
HX = {"HX-Request": "true"}


def capture(client, bin_id: str, body: bytes, **kwargs) -> int:
    response = client.post(f"/h/{bin_id}", data=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json["request_id"]


# --- safejson -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP, DEEP_VALID, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)])
def test_loads_bounded_refuses_deep_nesting_as_a_value_error(body):
    with pytest.raises(JSONLimitError, match=f"deeper than {MAX_DEPTH} levels"):
        loads_bounded(body)


def test_loads_bounded_parses_up_to_the_depth_bound():
    assert loads_bounded(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


def test_loads_bounded_refuses_what_is_over_max_bytes():
    with pytest.raises(JSONLimitError, match="over 1 KiB"):
        loads_bounded(b" " * 1025 + b"{}", max_bytes=1024)


def test_nesting_depth_does_not_count_brackets_inside_strings():
    assert nesting_depth('{"a": "[[[{{{", "b": ["\\"[["]}') == 2
    assert nesting_depth('"unterminated [[[[') == 0


def test_loads_bounded_decodes_bytes_as_json_does():
    assert loads_bounded('{"a": "é"}'.encode("utf-16")) == {"a": "é"}


# --- deep JSON in captures --------------------------------------------------------------------


def test_parse_json_of_a_deep_body_is_none():
    assert parse_json(DEEP) is None
    assert parse_json(DEEP_VALID) is None


def test_deep_handshake_body_gives_no_detection_instead_of_raising():
    body = b'{"type":"url_verification","challenge":"abc","x":' + DEEP
    assert answer_handshake(make_capture(body=body), enabled=True, load_secrets=list) == (None, None)


def test_deep_body_views_fall_back_to_text_with_a_note():
    views = bodyview.body_views(DEEP_VALID, "application/json")
    assert [view.kind for view in views] == ["text", "hex"]
    assert f"JSON nested deeper than {MAX_DEPTH} levels is not parsed; shown as text." in views[0].note


def test_body_views_of_json_at_the_depth_bound_are_pretty():
    body = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert bodyview.body_views(body, "application/json")[0].kind == "json"


def test_compare_of_deep_json_bodies_diffs_them_as_text():
    lines, notes = diff_bodies(DEEP_VALID, DEEP_VALID + b" ")
    assert any("too deep or too large" in note for note in notes)
    assert lines


def test_set_field_on_a_deep_body_is_a_signature_error():
    with pytest.raises(SignatureError):
        set_field(DEEP_VALID, "signature", "x")
    with pytest.raises(SignatureError):
        set_field(b"[1, 2]", "signature", "x")


def test_adyen_sign_of_a_deep_body_is_a_signature_error():
    adyen = providers.get("adyen")
    assert adyen is not None
    message = Message("POST", "https://example.com/", (("Content-Type", "application/json"),), DEEP_VALID)
    with pytest.raises(SignatureError):
        adyen.schemes[0].sign(message, "00" * 32, at=make_capture().received_at)


def test_capture_with_a_deep_json_body_leaves_its_bin_working(app, client, bin_id, fast_stream):
    capture_id = capture(client, bin_id, DEEP, content_type="application/json")
    base = f"/bins/{bin_id}"
    assert client.get(f"/api/bins/{bin_id}/requests").json["requests"][0]["id"] == capture_id
    assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}").status_code == 200
    assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}?at=now").status_code == 200
    assert client.get(base).status_code == 200
    detail = client.get(f"{base}/requests/{capture_id}", headers=HX)
    assert detail.status_code == 200
    assert "not parsed; shown as text." in detail.text
    assert client.get(f"{base}/requests/{capture_id}/signature", headers=HX).status_code == 200
    events = client.get(f"/api/bins/{bin_id}/events?after=0")
    assert f"id: {capture_id}\n" in read_stream(events, f"id: {capture_id}\n")
    rows = client.get(f"{base}/stream?after=0")
    assert f'id="req-{capture_id}"' in read_stream(rows, f'id="req-{capture_id}"')


def test_deep_json_handshake_is_stored_and_answered(client, bin_id):
    body = b'{"type":"url_verification","challenge":"abc","x":' + DEEP
    capture_id = capture(client, bin_id, body, content_type="application/json")
    assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["body_size"] == len(body)


def test_deep_json_signed_body_is_verified_like_any_other(client, bin_id):
    secret = "deep-secret"
    client.post(f"/api/bins/{bin_id}/secrets", json={"label": "gh", "value": secret, "provider": "github"})
    signature = "sha256=" + hmac.new(secret.encode(), DEEP_VALID, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
    capture_id = capture(client, bin_id, DEEP_VALID, content_type="application/json", headers=headers)
    shown = client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json
    assert shown["provider"]["id"] == "github"
    assert shown["signature"]["status"] == "valid"


@pytest.mark.parametrize(
    ("method", "path", "prefix"),
    [
        ("post", "/api/bins", b'{"name":'),
        ("patch", "/api/bins/test-bin", b'{"response":'),
        ("post", "/api/bins/test-bin/secrets", b'{"label":'),
    ],
)
def test_deep_api_json_body_is_a_400(client, bin_id, method, path, prefix):
    response = getattr(client, method)(path, data=prefix + DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than" in response.json["error"]


def test_deep_replay_json_body_is_a_400(client, bin_id):
    capture_id = capture(client, bin_id, b"x")
    url = f"/api/bins/{bin_id}/requests/{capture_id}/replay"
    response = client.post(url, data=b'{"url":' + DEEP, content_type="application/json")
    assert response.status_code == 400


def test_api_json_body_over_the_limit_is_a_413(app, client, bin_id):
    app.config["MAX_API_BODY_BYTES"] = 1024
    response = client.patch(f"/api/bins/{bin_id}", json={"response": {"body": "x" * 2000}})
    assert response.status_code == 413


def test_api_json_body_over_the_limit_without_a_length_is_a_413(app, client, bin_id):
    app.config["MAX_API_BODY_BYTES"] = 1024
    body = b'{"response": {"body": "' + b"x" * 2000 + b'"}}'  # no Content-Length: read until the limit
    response = client.patch(f"/api/bins/{bin_id}", input_stream=io.BytesIO(body), content_type="application/json")
    assert response.status_code == 413
    assert client.get(f"/api/bins/{bin_id}").json["response"]["body"] is None


def test_api_json_body_must_still_be_an_object(client, bin_id):
    for data in (b"[1]", b"{", b"\xff\xfe{"):
        response = client.patch(f"/api/bins/{bin_id}", data=data, content_type="application/json")
        assert response.status_code == 400
        assert response.json["error"] == "the request body must be a JSON object"


# --- declared charsets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "charset",
    [
        *("zlib_codec", "base64_codec", "rot13", "uu_codec", "hex", "bz2_codec", "idna", "punycode", "undefined"),
        *("unicode_escape", "raw_unicode_escape", "utf-7", "nope"),
    ],
)
def test_a_charset_that_is_no_text_encoding_is_ignored(charset):
    assert bodyview.charset_of({"charset": charset}) is None
    views = bodyview.body_views(b"hello \xff world", f"text/plain; charset={charset}")
    assert views[0].kind == "text" and views[0].text.startswith("hello ")


def test_a_lone_surrogate_in_json_is_shown_escaped_as_written():
    body = b'{"a": "\\ud800", "\\udfff": 1, "b": "\\ud83d\\ude00"}'
    assert bodyview.pretty_json(body) == '{\n  "a": "\\ud800",\n  "\\udfff": 1,\n  "b": "\U0001f600"\n}'
    lines, _ = diff_bodies(body, b"{}")
    assert '  "a": "\\ud800",' in [line.text for line in lines]


def test_detail_page_of_json_with_a_lone_surrogate_answers(client, bin_id):
    capture_id = capture(client, bin_id, b'{"a": "\\ud800"}', content_type="application/json")
    detail = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HX)
    assert detail.status_code == 200
    assert "&#34;a&#34;: &#34;\\ud800&#34;" in detail.text  # escaped as written


def test_utf16_without_a_byte_order_mark_falls_back_with_a_note():
    text, note = bodyview.decode_text(b"abc", "utf-16")
    assert text == "abc"
    assert note.startswith("Does not decode as the declared utf-16.")


def test_form_and_multipart_with_odd_charsets_still_show():
    assert bodyview.body_views(b"a=%FF&b=2", "application/x-www-form-urlencoded; charset=utf-16")[0].kind == "form"
    part = b"--B\r\nContent-Type: text/plain; charset=zlib_codec\r\n\r\nhi\r\n--B--\r\n"
    assert bodyview.body_views(part, "multipart/form-data; boundary=B")[0].parts[0].preview == "hi"


@pytest.mark.parametrize("charset", ["zlib_codec", "base64_codec", "rot13", "uu_codec", "hex", "idna", "utf-16"])
def test_detail_page_of_a_capture_with_an_odd_charset_answers(client, bin_id, charset):
    capture_id = capture(client, bin_id, b"hello \xff", content_type=f"text/plain; charset={charset}")
    assert client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HX).status_code == 200


# --- numbers in URLs, query strings and Last-Event-ID ----------------------------------------------


def test_ascii_int_takes_only_ascii_digits_up_to_max_id():
    assert ascii_int("12") == 12
    assert ascii_int(str(MAX_ID)) == MAX_ID
    for raw in ("١٢", "１２", "²", "-1", "1.0", "", None, str(MAX_ID + 1), "9" * 5000):
        assert ascii_int(raw) is None


def test_digits_at_most_matches_exactly_the_numbers_up_to_the_limit():
    for limit in (5, 10, 100, 345, 909, 1000):
        pattern = re.compile(digits_at_most(limit))
        for number in range(0, 1200):
            assert bool(pattern.fullmatch(str(number))) == (number <= limit), (limit, number)


def test_parse_last_event_id_ignores_what_is_no_id():
    assert parse_last_event_id(" 12 ") == 12
    assert parse_last_event_id("١٢", "99999999999999999999999", str(MAX_ID + 1), "7") == 7
    assert parse_last_event_id("١٢") is None


@pytest.mark.parametrize("value", ["١٢", "１２", "99999999999999999999999", str(MAX_ID + 1)])
@pytest.mark.parametrize("name", ["limit", "before", "after"])
def test_api_list_arguments_beyond_ascii_ids_are_400(client, bin_id, name, value):
    response = client.get(f"/api/bins/{bin_id}/requests?{name}={value}")
    assert response.status_code == 400
    assert f"{name} must be an integer from" in response.json["error"]


def test_api_list_takes_the_largest_id(client, bin_id):
    assert client.get(f"/api/bins/{bin_id}/requests?before={MAX_ID}").status_code == 200


@pytest.mark.parametrize("segment", ["١", "１", "99999999999999999999999", str(MAX_ID + 1)])
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/api/bins/{bin}/requests/{id}"),
        ("get", "/api/bins/{bin}/requests/{id}/raw"),
        ("get", "/api/bins/{bin}/requests/{id}/deliveries"),
        ("delete", "/api/bins/{bin}/requests/{id}"),
        ("delete", "/api/bins/{bin}/secrets/{id}"),
        ("post", "/api/bins/{bin}/requests/{id}/replay"),
        ("get", "/bins/{bin}/requests/{id}"),
        ("get", "/bins/{bin}/requests/{id}/signature"),
        ("delete", "/bins/{bin}/requests/{id}"),
    ],
)
def test_id_segments_beyond_ascii_ids_are_404(client, bin_id, method, template, segment):
    capture(client, bin_id, b"x")
    response = getattr(client, method)(template.format(bin=bin_id, id=segment), headers=HX)
    assert response.status_code == 404


def test_the_largest_id_is_looked_up(client, bin_id):
    response = client.get(f"/api/bins/{bin_id}/requests/{MAX_ID}")
    assert response.status_code == 404
    assert response.json["error"] == f"no request {MAX_ID} in bin {bin_id!r}"


@pytest.mark.parametrize("query", ["request", "before"])
def test_page_arguments_beyond_ids_are_ignored(client, bin_id, query):
    capture(client, bin_id, b"x")
    assert client.get(f"/bins/{bin_id}?{query}=99999999999999999999999").status_code == 200
    assert client.get(f"/bins/{bin_id}?{query}={MAX_ID + 1}").status_code == 200
    assert client.get(f"/bins/{bin_id}/requests?before={MAX_ID + 1}", headers=HX).status_code == 200


def test_compare_of_deliveries_beyond_ids_says_pick_two(client, bin_id):
    capture_id = capture(client, bin_id, b"x")
    response = client.get(f"/bins/{bin_id}/requests/{capture_id}/compare?a={MAX_ID + 1}&b=1", headers=HX)
    assert response.status_code == 200
    assert "Pick two deliveries" in response.text


@pytest.mark.parametrize("last_id", ["99999999999999999999999", str(MAX_ID + 1), "١٢"])
def test_event_streams_ignore_a_last_event_id_beyond_ids(client, bin_id, fast_stream, last_id):
    for path in (f"/api/bins/{bin_id}/events", f"/bins/{bin_id}/stream"):
        response = client.get(path, headers={"Last-Event-ID": last_id})
        assert response.status_code == 200
        capture_id = capture(client, bin_id, b"x")
        assert f"id: {capture_id}\n" in read_stream(response, f"id: {capture_id}\n")


# --- ports ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://example.com:99999/", "http://example.com:0/", "https://example.com:-1/", "http://[::1", "http://a\x00b/"],
)
def test_is_http_url_refuses_a_port_out_of_range_and_other_unusable_urls(url):
    assert not is_http_url(url)


def test_is_http_url_takes_the_highest_port():
    assert is_http_url("http://example.com:65535/hook")


@pytest.mark.parametrize("url", ["http://example.com:99999/", "http://example.com:0/"])
def test_forward_url_with_a_port_out_of_range_is_400(client, bin_id, url):
    response = client.patch(f"/api/bins/{bin_id}", json={"forward": {"url": url}})
    assert response.status_code == 400
    assert response.json["error"] == "forward.url must have a port from 1 to 65535"
    page = client.post(f"/bins/{bin_id}/forward", data={"url": url, "enabled": "1"}, headers=HX)
    assert page.status_code == 400
    assert "port from 1 to 65535" in page.text


def test_replay_and_public_base_with_a_port_out_of_range_are_400(client, bin_id):
    capture_id = capture(client, bin_id, b"x")
    replay = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": "http://h:99999/"})
    assert replay.status_code == 400
    assert replay.json["error"] == "url must have a port from 1 to 65535"
    base = client.patch(f"/api/bins/{bin_id}", json={"public_base_url": "https://hooks.example.com:70000"})
    assert base.status_code == 400


def test_a_base_url_with_an_impossible_port_does_not_break_the_loop_check(app, client, bin_id):
    app.config["BASE_URL"] = "https://hooks.example.com:99999"
    response = client.patch(f"/api/bins/{bin_id}", json={"forward": {"url": "http://192.0.2.1/hook"}})
    assert response.status_code == 200


# --- NUL and other text the database cannot store -----------------------------------------------


def test_check_text_names_the_field():
    assert check_text("fine", "label") == "fine"
    with pytest.raises(InvalidInput, match="label must not contain NUL characters"):
        check_text("a\x00b", "label")
    with pytest.raises(InvalidInput, match="lone surrogates"):
        check_text("\ud800", "label")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"response": {"body": "a\x00b"}}, "response.body must not contain NUL characters"),
        ({"response": {"headers": [["X-A", "a\x00b"]]}}, "response header X-A must be Latin-1 text"),
        ({"forward": {"url": "http://example.com/\x00"}}, "forward.url must not contain whitespace, NUL"),
        ({"public_base_url": "http://example.com/\x00"}, "public_base_url must not contain whitespace, NUL"),
    ],
)
def test_bin_settings_with_nul_are_400(client, bin_id, payload, error):
    response = client.patch(f"/api/bins/{bin_id}", json=payload)
    assert response.status_code == 400
    assert response.json["error"].startswith(error)


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        ({"label": "a\x00", "value": "x"}, "label must not contain NUL characters"),
        ({"label": "a", "value": "long enough to hint\x00"}, "value must not contain NUL characters"),
    ],
)
def test_secrets_with_nul_are_400(client, bin_id, secret, error):
    response = client.post(f"/api/bins/{bin_id}/secrets", json=secret)
    assert response.status_code == 400
    assert response.json["error"] == error
    page = client.post(f"/bins/{bin_id}/secrets", data=secret, headers=HX)
    assert page.status_code == 400
    assert error in page.text


def test_secret_with_a_lone_surrogate_is_400(client, bin_id):
    body = b'{"label": "\\ud800", "value": "x"}'
    response = client.post(f"/api/bins/{bin_id}/secrets", data=body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["q", "provider", "event"])
def test_list_filters_with_nul_are_400(client, bin_id, name):
    response = client.get(f"/api/bins/{bin_id}/requests?{name}=a%00b")
    assert response.status_code == 400
    assert response.json["error"] == f"{name} must not contain NUL characters"
    assert client.get(f"/bins/{bin_id}?{name}=a%00b").status_code == 400
    assert client.get(f"/bins/{bin_id}/list?{name}=a%00b", headers=HX).status_code == 400


@pytest.mark.parametrize("path", ["/api/bins/a%00b", "/bins/a%00b", "/api/bins/a%00b/requests"])
def test_a_bin_id_with_nul_is_404(client, path):
    assert client.get(path).status_code == 404
    assert client.delete("/api/bins/a%00b").status_code == 404


def test_replay_edits_with_control_characters_are_400(client, bin_id):
    capture_id = capture(client, bin_id, b"x")
    url = f"/api/bins/{bin_id}/requests/{capture_id}/replay"
    for headers in ([["X-A", "a\x00b"]], [["X-A", "a\x01b"]], [["X-A", "€"]], [["X A", "b"]]):
        response = client.post(url, json={"url": "http://192.0.2.1/", "headers": headers})
        assert response.status_code == 400
    form = {"url": "http://192.0.2.1/", "headers": "X-A: a\x01b", "method": "POST"}
    page = client.post(f"/bins/{bin_id}/requests/{capture_id}/replay", data=form, headers=HX)
    assert page.status_code == 400
    assert "header line 1:" in page.text


# --- what a bin may answer with ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Date", "server", "TE", "Trailer", "Proxy-Authenticate", "Content-Length"])
def test_response_headers_the_server_sets_or_drops_are_refused(name):
    with pytest.raises(InvalidInput, match="set or dropped by the server"):
        parse_response({"headers": [[name, "x"]]})


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\x00b", "a\x01b", "a\x7fb", "€", "\u2028"])
def test_response_header_values_must_be_sendable(value):
    with pytest.raises(InvalidInput, match="must be Latin-1 text without control characters"):
        parse_response({"headers": [["X-A", value]]})


def test_response_header_values_may_hold_tabs_and_latin1():
    assert parse_response({"headers": {"X-A": "caf\xe9\tok"}}).headers == (("X-A", "caf\xe9\tok"),)


def test_response_limits_are_the_configured_ones():
    limits = Limits(response_headers=2, response_header_bytes=4, response_body_bytes=3, secret_bytes=1)
    with pytest.raises(InvalidInput, match="at most 2 response headers"):
        parse_response({"headers": [["A", "1"], ["B", "2"], ["C", "3"]]}, limits)
    with pytest.raises(InvalidInput, match="response header A must be at most 4 bytes"):
        parse_response({"headers": [["A", "12345"]]}, limits)
    with pytest.raises(InvalidInput, match=r"response\.body must be at most 3 bytes"):
        parse_response({"body": "é✓"}, limits)
    assert parse_response({"headers": [["A", "1234"]], "body": "abc"}, limits).body == "abc"


def test_limits_are_read_from_the_app_config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HOOKLOUPE_MAX_SECRET_BYTES", "16")
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/h.db", "SECRET_KEY": "k"})
    assert Limits.from_config(app.config).secret_bytes == 16
    assert Limits.from_config(app.config).response_headers == 50


def test_over_limit_settings_are_400_saying_the_limit(app, client, bin_id):
    app.config.update(MAX_RESPONSE_HEADERS=2, MAX_RESPONSE_HEADER_BYTES=10, MAX_RESPONSE_BODY_BYTES=5)
    cases = [
        ({"headers": [["A", "1"]] * 3}, "at most 2 response headers"),
        ({"headers": [["A", "x" * 11]]}, "response header A must be at most 10 bytes"),
        ({"body": "x" * 6}, "response.body must be at most 5 bytes (UTF-8)"),
    ]
    for response_settings, error in cases:
        response = client.patch(f"/api/bins/{bin_id}", json={"response": response_settings})
        assert response.status_code == 400
        assert response.json["error"] == error


def test_secret_size_is_counted_in_bytes(app, client, bin_id):
    app.config["MAX_SECRET_BYTES"] = 8
    ok = client.post(f"/api/bins/{bin_id}/secrets", json={"label": "a", "value": "éééé"})
    assert ok.status_code == 201
    response = client.post(f"/api/bins/{bin_id}/secrets", json={"label": "a", "value": "ééééé"})
    assert response.status_code == 400
    assert response.json["error"] == "value must be a non-empty string of at most 8 bytes (UTF-8)"


def test_a_latin1_response_header_is_sent_as_configured(client, bin_id):
    settings = {"response": {"status": 202, "headers": [["X-Greeting", "caf\xe9"]], "body": "ok"}}
    assert client.patch(f"/api/bins/{bin_id}", json=settings).status_code == 200
    answer = client.post(f"/h/{bin_id}", data=b"x")
    assert answer.status_code == 202
    assert answer.headers["X-Greeting"] == "caf\xe9"
