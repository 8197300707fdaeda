"""The JSON API and capture through the Flask test client, with raw bytes, on every backend."""

import base64
import gzip
import json
from datetime import UTC

import pytest

from inspector.janitor import prune_once


def detail(client, bin_id, capture_id):
    response = client.get(f"/api/bins/{bin_id}/requests/{capture_id}")
    assert response.status_code == 200
    return response.json


def body_of(client, bin_id, capture_id) -> bytes:
    return base64.b64decode(detail(client, bin_id, capture_id)["body_base64"])


# --- bins -------------------------------------------------------------------------------


def test_create_random_bin_has_a_long_url_safe_id(client):
    response = client.post("/api/bins")
    assert response.status_code == 201
    bin_ = response.json
    assert len(bin_["id"]) == 16 and "/" not in bin_["id"]
    assert bin_["capture_url"] == f"http://localhost/h/{bin_['id']}"
    assert bin_["inspect_url"] == f"http://localhost/bins/{bin_['id']}"
    assert bin_["request_count"] == 0 and bin_["forward"] is None
    assert bin_["response"] == {"status": 200, "headers": [], "body": None, "delay_ms": 0}


def test_create_custom_bin_and_refuse_duplicates(client):
    assert client.post("/api/bins", json={"name": "my-hooks"}).status_code == 201
    again = client.post("/api/bins", json={"name": "my-hooks"})
    assert again.status_code == 409 and "already exists" in again.json["error"]


@pytest.mark.parametrize("name", ["AB", "x", "-abc", "has space", "a" * 64, "api", 42])
def test_bad_custom_names_are_400(client, name):
    response = client.post("/api/bins", json={"name": name})
    assert response.status_code == 400 and response.json["error"]


def test_non_object_json_is_400(client):
    response = client.post("/api/bins", data=b"[1,2]", content_type="application/json")
    assert response.status_code == 400
    response = client.post("/api/bins", data=b"{not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_bin_is_404_json(client):
    for method, url in [
        ("GET", "/api/bins/nope"),
        ("PATCH", "/api/bins/nope"),
        ("DELETE", "/api/bins/nope"),
        ("GET", "/api/bins/nope/requests"),
        ("GET", "/api/bins/nope/events"),
    ]:
        response = client.open(url, method=method, json={} if method == "PATCH" else None)
        assert response.status_code == 404, url
        assert "nope" in response.json["error"]


def test_delete_bin_removes_its_captures(client, bin_id):
    client.post(f"/h/{bin_id}", data=b"x")
    assert client.delete(f"/api/bins/{bin_id}").status_code == 204
    assert client.get(f"/api/bins/{bin_id}").status_code == 404
    assert client.post(f"/h/{bin_id}", data=b"x").status_code == 404


# --- capture ----------------------------------------------------------------------------


def test_default_answer_names_the_stored_request(client, bin_id):
    response = client.post(f"/h/{bin_id}", data=b"{}")
    assert response.status_code == 200
    assert response.json == {"ok": True, "request_id": response.json["request_id"]}
    assert detail(client, bin_id, response.json["request_id"])["method"] == "POST"


def test_unknown_bin_capture_is_404_and_stores_nothing(client, bin_id):
    response = client.post("/h/not-a-bin/x", data=b"hello")
    assert response.status_code == 404 and response.is_json
    assert client.get(f"/api/bins/{bin_id}").json["request_count"] == 0


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "PURGE", "PROPFIND", "HEAD", "OPTIONS"])
def test_every_method_is_captured(client, bin_id, method):
    response = client.open(f"/h/{bin_id}/p", method=method)
    assert response.status_code == 200
    summaries = client.get(f"/api/bins/{bin_id}/requests").json["requests"]
    assert [s["method"] for s in summaries] == [method]


def test_options_preflight_is_captured_not_auto_answered(client, bin_id):
    response = client.options(
        f"/h/{bin_id}", headers={"Origin": "https://x.test", "Access-Control-Request-Method": "POST"}
    )
    assert "Allow" not in response.headers
    assert client.get(f"/api/bins/{bin_id}").json["request_count"] == 1


def test_trailing_slash_not_redirected(client, bin_id):
    response = client.post(f"/h/{bin_id}/", data=b"a")
    assert response.status_code == 200
    assert detail(client, bin_id, response.json["request_id"])["path"] == "/"


def test_bare_bin_url_has_empty_sub_path(client, bin_id):
    response = client.post(f"/h/{bin_id}", data=b"a")
    assert detail(client, bin_id, response.json["request_id"])["path"] == ""


def test_json_with_repeated_query_keys_round_trips(client, bin_id):
    body = b'{"event": "x", "n": [1, 2, 3]}'
    response = client.post(f"/h/{bin_id}/hook?a=1&a=2&b=&c=%E2%9C%93", data=body, content_type="application/json")
    got = detail(client, bin_id, response.json["request_id"])
    assert got["query_string"] == "a=1&a=2&b=&c=%E2%9C%93"
    assert got["query"] == [["a", "1"], ["a", "2"], ["b", ""], ["c", "✓"]]
    assert got["content_type"] == "application/json"
    assert got["path"] == "/hook"
    assert base64.b64decode(got["body_base64"]) == body


def test_256_binary_bytes_with_nuls_round_trip(client, bin_id):
    body = bytes(range(256))
    response = client.post(f"/h/{bin_id}", data=body, content_type="application/octet-stream")
    assert body_of(client, bin_id, response.json["request_id"]) == body
    raw = client.get(f"/api/bins/{bin_id}/requests/{response.json['request_id']}/raw")
    assert raw.data == body
    assert raw.headers["Content-Disposition"].startswith("attachment;")
    assert raw.headers["X-Content-Type-Options"] == "nosniff"


def test_gzip_body_is_stored_as_received(client, bin_id):
    body = gzip.compress(b'{"a": 1}' * 100)
    response = client.post(f"/h/{bin_id}", data=body, headers={"Content-Encoding": "gzip"})
    assert body_of(client, bin_id, response.json["request_id"]) == body


def test_multipart_round_trips_byte_exact(client, bin_id):
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="b.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\x00\xff\r\n--XyZ--\r\n"
    )
    response = client.post(f"/h/{bin_id}", data=body, content_type="multipart/form-data; boundary=XyZ")
    assert body_of(client, bin_id, response.json["request_id"]) == body


def test_headers_are_pairs_in_order(client, bin_id):
    response = client.post(f"/h/{bin_id}", data=b"", headers=[("X-First", "1"), ("X-Second", "<b>")])
    names = [name for name, _ in detail(client, bin_id, response.json["request_id"])["headers"]]
    assert names.index("X-First") < names.index("X-Second")


def test_received_at_has_microseconds_and_utc(client, bin_id):
    response = client.post(f"/h/{bin_id}")
    received = detail(client, bin_id, response.json["request_id"])["received_at"]
    assert received.endswith("Z") and len(received.split(".")[1]) == 7


def test_remote_addr_ignores_forwarded_for_without_trusted_proxies(client, bin_id):
    response = client.post(f"/h/{bin_id}", headers={"X-Forwarded-For": "6.6.6.6"})
    assert detail(client, bin_id, response.json["request_id"])["remote_addr"] == "127.0.0.1"


def test_trusted_proxy_sets_remote_addr(app, client, bin_id):
    app.config["TRUSTED_PROXIES"] = 1
    response = client.post(f"/h/{bin_id}", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    assert detail(client, bin_id, response.json["request_id"])["remote_addr"] == "203.0.113.9"


def test_oversize_body_is_413_and_stored_truncated(app, client, bin_id):
    app.config["MAX_BODY_BYTES"] = 1000
    body = bytes(range(256)) * 8  # 2048 bytes
    response = client.post(f"/h/{bin_id}", data=body)
    assert response.status_code == 413
    assert "1000" in response.json["error"]
    got = detail(client, bin_id, response.json["request_id"])
    assert got["body_truncated"] is True
    assert got["body_size"] == 2048
    assert base64.b64decode(got["body_base64"]) == body[:1000]


def test_capture_answers_are_sandboxed(client, bin_id):
    response = client.post(f"/h/{bin_id}")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- custom responses -------------------------------------------------------------------


def test_custom_response_is_served(client, bin_id):
    settings = {"status": 201, "headers": [["X-Reply", "yes"], ["Content-Type", "application/xml"]], "body": "<ok/>"}
    patched = client.patch(f"/api/bins/{bin_id}", json={"response": settings})
    assert patched.status_code == 200 and patched.json["response"]["status"] == 201
    response = client.post(f"/h/{bin_id}", data=b"x")
    assert response.status_code == 201
    assert response.headers["X-Reply"] == "yes"
    assert response.headers["Content-Type"] == "application/xml"
    assert response.data == b"<ok/>"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_custom_delay_is_applied(client, bin_id):
    import time

    client.patch(f"/api/bins/{bin_id}", json={"response": {"delay_ms": 300}})
    started = time.monotonic()
    client.post(f"/h/{bin_id}")
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    "response",
    [
        {"status": 199},
        {"status": 600},
        {"status": "200"},
        {"delay_ms": 30001},
        {"delay_ms": -1},
        {"headers": [["Bad Name", "x"]]},
        {"headers": [["X-A", "a\r\nSet-Cookie: x=1"]]},
        {"headers": [["Content-Length", "5"]]},
        {"body": 5},
        {"colour": "red"},
    ],
)
def test_bad_response_settings_are_400_and_change_nothing(client, bin_id, response):
    answer = client.patch(f"/api/bins/{bin_id}", json={"response": response})
    assert answer.status_code == 400 and answer.json["error"]
    assert client.get(f"/api/bins/{bin_id}").json["response"]["status"] == 200


def test_forward_settings_round_trip_and_clear(client, bin_id):
    answer = client.patch(f"/api/bins/{bin_id}", json={"forward": {"url": "http://127.0.0.1:9/in", "enabled": False}})
    assert answer.json["forward"] == {"url": "http://127.0.0.1:9/in", "enabled": False}
    assert client.patch(f"/api/bins/{bin_id}", json={"forward": None}).json["forward"] is None
    assert client.patch(f"/api/bins/{bin_id}", json={"forward": {"url": "ftp://x"}}).status_code == 400


def test_max_requests_is_validated(client, bin_id):
    assert client.patch(f"/api/bins/{bin_id}", json={"max_requests": 5}).json["max_requests"] == 5
    assert client.patch(f"/api/bins/{bin_id}", json={"max_requests": 0}).status_code == 400


# --- listing, detail, deletion ----------------------------------------------------------


def test_list_is_newest_first_with_a_cursor(client, bin_id):
    ids = [client.post(f"/h/{bin_id}/{n}").json["request_id"] for n in range(5)]
    page = client.get(f"/api/bins/{bin_id}/requests?limit=2").json
    assert [s["id"] for s in page["requests"]] == ids[:-3:-1]
    assert page["next_before"] == ids[3]
    rest = client.get(f"/api/bins/{bin_id}/requests?limit=10&before={page['next_before']}").json
    assert [s["id"] for s in rest["requests"]] == ids[2::-1]
    assert rest["next_before"] is None
    newer = client.get(f"/api/bins/{bin_id}/requests?after={ids[2]}").json
    assert [s["id"] for s in newer["requests"]] == [ids[4], ids[3]]


def test_summary_has_the_contract_fields(client, bin_id):
    client.post(f"/h/{bin_id}/x?y=1", data=b"abc", content_type="text/plain")
    summary = client.get(f"/api/bins/{bin_id}/requests").json["requests"][0]
    assert set(summary) == {
        "id",
        "received_at",
        "method",
        "path",
        "query_string",
        "content_type",
        "body_size",
        "provider",
        "signature",
        "analysed",
        "pinned",
        "note",
    }
    assert (summary["path"], summary["query_string"], summary["body_size"]) == ("/x", "y=1", 3)


def test_search_finds_path_and_body_text(client, bin_id):
    client.post(f"/h/{bin_id}/orders", data=b'{"id": "ord_123"}')
    client.post(f"/h/{bin_id}/other", data=b"100% sure")
    assert len(client.get(f"/api/bins/{bin_id}/requests?q=ORDERS").json["requests"]) == 1
    assert len(client.get(f"/api/bins/{bin_id}/requests?q=ord_123").json["requests"]) == 1
    assert len(client.get(f"/api/bins/{bin_id}/requests?q=0%25").json["requests"]) == 1
    assert len(client.get(f"/api/bins/{bin_id}/requests?q=%25%25").json["requests"]) == 0


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "before=-1", "after=abc"])
def test_bad_list_parameters_are_400(client, bin_id, query):
    response = client.get(f"/api/bins/{bin_id}/requests?{query}")
    assert response.status_code == 400 and response.json["error"]


def test_request_from_another_bin_is_404(client, bin_id):
    capture_id = client.post(f"/h/{bin_id}").json["request_id"]
    client.post("/api/bins", json={"name": "other-bin"})
    assert client.get(f"/api/bins/other-bin/requests/{capture_id}").status_code == 404
    assert client.delete(f"/api/bins/other-bin/requests/{capture_id}").status_code == 404


def test_delete_one_and_clear_all(client, bin_id):
    first = client.post(f"/h/{bin_id}").json["request_id"]
    client.post(f"/h/{bin_id}")
    assert client.delete(f"/api/bins/{bin_id}/requests/{first}").status_code == 204
    assert client.get(f"/api/bins/{bin_id}/requests/{first}").status_code == 404
    assert client.get(f"/api/bins/{bin_id}").json["request_count"] == 1
    assert client.delete(f"/api/bins/{bin_id}/requests").status_code == 204
    assert client.get(f"/api/bins/{bin_id}").json["request_count"] == 0


# --- pruning ----------------------------------------------------------------------------


def test_prune_keeps_the_newest_max_requests(app, client, bin_id):
    client.patch(f"/api/bins/{bin_id}", json={"max_requests": 3})
    ids = [client.post(f"/h/{bin_id}").json["request_id"] for _ in range(7)]
    assert prune_once(app)["captures"] == 4
    listed = [s["id"] for s in client.get(f"/api/bins/{bin_id}/requests").json["requests"]]
    assert listed == ids[:-4:-1]


def test_prune_expires_idle_bins_only(app, client, bin_id):
    from datetime import datetime, timedelta

    from inspector import store
    from inspector.db import db
    from inspector.models import Bin

    client.post("/api/bins", json={"name": "active-bin"})
    with app.app_context():
        old = datetime.now(UTC) - timedelta(days=40)
        for name in (bin_id, "active-bin"):
            db.session.get(Bin, name).created_at = old
        db.session.commit()
    client.post("/h/active-bin")  # recent activity keeps it
    assert prune_once(app)["bins"] == 1
    assert client.get(f"/api/bins/{bin_id}").status_code == 404
    assert client.get("/api/bins/active-bin").status_code == 200
    app.config["BIN_TTL_DAYS"] = 0
    with app.app_context():
        assert store.prune(datetime.now(UTC) + timedelta(days=999), default_max=10, ttl_days=0)["bins"] == 0


# --- health and headers -----------------------------------------------------------------


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"ok": True}


def test_api_answers_carry_security_headers(client, bin_id):
    response = client.get(f"/api/bins/{bin_id}")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_password_guards_api_but_not_capture(app, client, bin_id):
    app.config["PASSWORD"] = "s3cret"
    assert client.get(f"/api/bins/{bin_id}").status_code == 401
    assert client.post(f"/h/{bin_id}").status_code == 200
    assert client.get("/healthz").status_code == 200
    auth = {"Authorization": "Basic " + base64.b64encode(b"any:s3cret").decode()}
    assert client.get(f"/api/bins/{bin_id}", headers=auth).status_code == 200
    wrong = {"Authorization": "Basic " + base64.b64encode(b"any:nope").decode()}
    assert client.get(f"/api/bins/{bin_id}", headers=wrong).status_code == 401


def test_events_stream_sends_new_captures_with_ids(app, client, bin_id):
    app.config.update(STREAM_MAX_S=0.6, STREAM_POLL_S=0.05)
    first = client.post(f"/h/{bin_id}", data=b"1").json["request_id"]
    second = client.post(f"/h/{bin_id}", data=b"2").json["request_id"]
    response = client.get(f"/api/bins/{bin_id}/events", headers={"Last-Event-ID": str(first)})
    assert response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)
    assert f"id: {second}\nevent: request\ndata: " in text
    assert f"id: {first}\n" not in text
    data = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert data["id"] == second and data["body_size"] == 1


def test_ids_are_never_reused_after_deletes(client, bin_id):
    first = client.post(f"/h/{bin_id}").json["request_id"]
    client.delete(f"/api/bins/{bin_id}/requests")
    assert client.post(f"/h/{bin_id}").json["request_id"] > first


def test_capture_answer_carries_each_sandbox_header_once(client, bin_id):
    response = client.post(f"/h/{bin_id}")
    assert response.headers.getlist("Content-Security-Policy") == ["sandbox; default-src 'none'"]
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_a_405_says_which_methods_are_allowed(client, bin_id):
    """RFC 9110 §15.5.6: a 405 carries Allow (found by the OpenAPI fuzz run)."""
    response = client.put("/api/bins")
    assert response.status_code == 405 and response.json["error"]
    assert "POST" in response.headers["Allow"].split(", ")
    page = client.put(f"/bins/{bin_id}/stream")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]
