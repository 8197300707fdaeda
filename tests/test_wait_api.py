"""Matchers on the API, `…/requests/count`, `…/requests/wait` and ephemeral bins (DESIGN §4)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import LiveServer
from sqlalchemy import event

from inspector.db import db
from inspector.janitor import prune_once
from inspector.signing.samples import build_sample

STRIPE_SECRET = "whsec_test_wait"


def send_stripe(client, bin_id: str, *, secret: str = STRIPE_SECRET, event: str = "invoice.paid") -> int:
    sample = build_sample("stripe", secret=secret, event=event, at=datetime.now(UTC), url=f"http://x/h/{bin_id}")
    response = client.post(f"/h/{bin_id}{sample.path_suffix}", data=sample.body, headers=sample.headers)
    assert response.status_code == 200
    return response.json["request_id"]


@pytest.fixture
def mixed_bin(client, bin_id):
    """A bin holding a valid Stripe capture, an invalid one, a GET with a query and a text POST."""
    client.post(f"/api/bins/{bin_id}/secrets", json={"label": "stripe", "value": STRIPE_SECRET})
    ids = {
        "valid": send_stripe(client, bin_id),
        "invalid": send_stripe(client, bin_id, secret="whsec_wrong", event="charge.failed"),
        "get": client.get(f"/h/{bin_id}/orders/7?status=paid&x=1").json["request_id"],
        "text": client.post(
            f"/h/{bin_id}/notes", data=b"Hello World", headers={"Content-Type": "text/plain", "X-Team": "Blue"}
        ).json["request_id"],
    }
    return bin_id, ids


# --- list and count ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("provider=stripe", ["invalid", "valid"]),
        ("provider=stripe&verdict=valid", ["valid"]),
        ("verdict=invalid", ["invalid"]),
        ("event=charge.*", ["invalid"]),
        ("event=*.paid", ["valid"]),
        ("method=get", ["get"]),
        ("path=/orders/*", ["get"]),
        ("q.status=paid", ["get"]),
        ("h.x-team=bl*", ["text"]),
        ("content_type=text/plain", ["text"]),
        ("text=hello world", ["text"]),
        ("json.type=invoice.paid", ["valid"]),
        ("provider=none", ["text", "get"]),
        ("provider=github", []),
        ("", ["text", "get", "invalid", "valid"]),
    ],
)
def test_list_and_count_apply_the_matchers(client, mixed_bin, query, expected):
    bin_id, ids = mixed_bin
    listed = client.get(f"/api/bins/{bin_id}/requests?{query}").json["requests"]
    assert [row["id"] for row in listed] == [ids[name] for name in expected]
    assert client.get(f"/api/bins/{bin_id}/requests/count?{query}").json == {"count": len(expected)}


def test_list_pages_through_row_checked_matchers(client, bin_id):
    """A matcher checked row by row (text) still pages with limit/next_before."""
    ids = [
        client.post(f"/h/{bin_id}", data=f"item {n} {'hit' if n % 3 == 0 else ''}".encode()).json["request_id"]
        for n in range(30)
    ]
    hits = [i for n, i in enumerate(ids) if n % 3 == 0][::-1]
    first = client.get(f"/api/bins/{bin_id}/requests?text=HIT&limit=4").json
    assert [row["id"] for row in first["requests"]] == hits[:4]
    second = client.get(f"/api/bins/{bin_id}/requests?text=HIT&limit=4&before={first['next_before']}").json
    assert [row["id"] for row in second["requests"]] == hits[4:8]


@pytest.mark.parametrize(
    ("query", "message"),
    [("provder=stripe", "unknown matcher 'provder'"), ("verdict=good", "verdict must be one of")],
)
def test_unknown_or_bad_matchers_are_a_400_everywhere(client, bin_id, query, message):
    for route in ("requests", "requests/count", "requests/wait", "events"):
        response = client.get(f"/api/bins/{bin_id}/{route}?{query}&timeout_s=0")
        assert response.status_code == 400, route
        assert message in response.json["error"]


# --- wait --------------------------------------------------------------------------------------


def test_wait_times_out_with_near_misses(client, mixed_bin):
    bin_id, ids = mixed_bin
    answer = client.get(f"/api/bins/{bin_id}/requests/wait?after=0&timeout_s=0&provider=github").json
    assert answer["request"] is None and answer["timed_out"] is True
    assert answer["last_id"] == ids["text"]
    near = answer["near_misses"]
    assert [miss["id"] for miss in near] == [ids["text"], ids["get"], ids["invalid"], ids["valid"]]
    assert near[0]["missed"] == ["provider: wanted 'github', got 'none'"]
    assert near[-1]["missed"] == ["provider: wanted 'github', got 'stripe'"]


def test_wait_after_returns_the_oldest_stored_match(client, mixed_bin):
    bin_id, ids = mixed_bin
    answer = client.get(f"/api/bins/{bin_id}/requests/wait?after=0&timeout_s=0&provider=stripe").json
    assert answer["timed_out"] is False and answer["request"]["id"] == ids["valid"]
    assert answer["request"]["signature"]["status"] == "valid"
    assert "body_base64" in answer["request"] and "near_misses" not in answer
    following = client.get(f"/api/bins/{bin_id}/requests/wait?after={ids['valid']}&timeout_s=0&provider=stripe").json
    assert following["request"]["id"] == ids["invalid"]


def test_wait_without_after_never_returns_a_stored_capture(client, mixed_bin):
    """No stale match: what was stored before the call cannot satisfy it."""
    bin_id, ids = mixed_bin
    started = time.monotonic()
    answer = client.get(f"/api/bins/{bin_id}/requests/wait?timeout_s=1&provider=stripe").json
    assert answer["timed_out"] is True and answer["request"] is None
    assert answer["last_id"] == ids["text"] and answer["near_misses"] == []
    assert 0.9 <= time.monotonic() - started < 5


def run_in_thread(call):
    """Start `call()` in a thread; the returned function joins it and gives its result."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", call()), daemon=True)
    thread.start()

    def join(timeout=15):
        thread.join(timeout)
        assert not thread.is_alive(), "the wait did not return"
        return result["value"]

    return join


def test_a_capture_arriving_mid_wait_is_returned(app, client, bin_id):
    app.config.update(WAIT_POLL_S=0.01)
    client.post(f"/h/{bin_id}/old", data=b"stored before")
    join = run_in_thread(lambda: client.get(f"/api/bins/{bin_id}/requests/wait?timeout_s=10&path=/new/*").json)
    time.sleep(0.3)
    client.post(f"/h/{bin_id}/other", data=b"not this one")
    time.sleep(0.1)
    wanted = client.post(f"/h/{bin_id}/new/1?k=v", data=b"\x00\xffthis one").json["request_id"]
    answer = join()
    assert answer["timed_out"] is False
    assert answer["request"]["id"] == wanted and answer["request"]["query"] == [["k", "v"]]
    assert answer["request"]["body_base64"] == "AP90aGlzIG9uZQ=="


def test_waits_share_one_watcher_instead_of_polling(app, client, bin_id):
    """Twenty open waits on an idle bin for a second: each queries its bin when it starts (and
    checks the bin once), and the process reads its capture marks a few times; polling every
    WAIT_POLL_S would be 20 x 50 queries."""
    app.config.update(WAIT_POLL_S=0.02)
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    joins = [run_in_thread(lambda: client.get(f"/api/bins/{bin_id}/requests/wait?timeout_s=1").json) for _ in range(20)]
    answers = [join() for join in joins]
    assert all(answer["timed_out"] for answer in answers)
    assert len(statements) < 20 * 8 + 40, len(statements)


def test_wait_for_a_verdict_waits_for_the_analysis(app, tmp_path):
    """With the background analyser, a capture is stored before its verdict is known: a wait
    on `verdict=valid` holds it until the analysis is written, then returns it analysed."""
    server = LiveServer(tmp_path, env={"HOOKLOUPE_ANALYSIS_MAX_DEFER_S": "0"}, workers=1).start()
    try:
        bin_id = server.create_bin()
        httpx.post(f"{server.url}/api/bins/{bin_id}/secrets", json={"label": "s", "value": STRIPE_SECRET})
        url = f"{server.url}/api/bins/{bin_id}/requests/wait"
        with httpx.Client(timeout=20) as http:
            join = run_in_thread(lambda: http.get(url, params={"timeout_s": 10, "verdict": "valid"}).json())
            time.sleep(0.3)
            sample = build_sample("stripe", secret=STRIPE_SECRET, at=datetime.now(UTC), url=server.url)
            sent = http.post(f"{server.url}/h/{bin_id}", content=sample.body, headers=sample.headers).json()
            answer = join()
        assert answer["request"]["id"] == sent["request_id"]
        assert answer["request"]["signature"]["status"] == "valid"
        assert answer["request"]["provider"]["id"] == "stripe"
    finally:
        server.stop()


def test_wait_on_a_deleted_bin_ends_with_410(app, client, bin_id):
    join = run_in_thread(lambda: client.get(f"/api/bins/{bin_id}/requests/wait?timeout_s=10"))
    time.sleep(0.2)
    client.delete(f"/api/bins/{bin_id}")
    response = join()
    assert response.status_code == 410 and "deleted or expired" in response.json["error"]


@pytest.mark.parametrize("value", ["61", "-1", "x", "1.5", "١"])
def test_wait_timeout_out_of_range_is_a_400(client, bin_id, value):
    response = client.get(f"/api/bins/{bin_id}/requests/wait?timeout_s={value}")
    assert response.status_code == 400 and "timeout_s" in response.json["error"]


def test_a_full_worker_answers_waits_with_503(app, client, bin_id):
    slots = app.extensions["hookloupe.wait_slots"]
    taken = 0
    while slots.try_take():
        taken += 1
    try:
        response = client.get(f"/api/bins/{bin_id}/requests/wait?timeout_s=0")
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    finally:
        for _ in range(taken):
            slots.give_back()
    assert client.get(f"/api/bins/{bin_id}/requests/wait?timeout_s=0").status_code == 200


def test_the_event_stream_applies_matchers(app, client, bin_id, fast_stream):
    from conftest import read_stream

    stream = client.get(f"/api/bins/{bin_id}/events?method=PUT&after=0")
    client.post(f"/h/{bin_id}", data=b"a")
    put = client.put(f"/h/{bin_id}", data=b"b").json["request_id"]
    text = read_stream(stream, until=f"id: {put}")
    assert f"id: {put}" in text and text.count("event: request") == 1


# --- ephemeral bins ------------------------------------------------------------------------------


def test_an_ephemeral_bin_answers_410_once_expired_and_is_deleted(app, client):
    created = client.post("/api/bins", json={"expires_in_s": 1})
    assert created.status_code == 201
    bin_id, expires_at = created.json["id"], created.json["expires_at"]
    assert datetime.fromisoformat(expires_at) - datetime.now(UTC) <= timedelta(seconds=1)
    assert client.post(f"/h/{bin_id}", data=b"in time").status_code == 200
    time.sleep(1.1)
    refused = client.post(f"/h/{bin_id}/late", data=b"too late")
    assert refused.status_code == 410 and "expired" in refused.json["error"]
    for path in ("", "/requests", "/requests/1", "/requests/count", "/stats"):
        response = client.get(f"/api/bins/{bin_id}{path}")
        assert response.status_code == 410, path
    assert client.get(f"/bins/{bin_id}").status_code == 410
    with app.app_context():
        from inspector import store

        assert store.count_captures(bin_id) == 1  # the late one was not stored
    assert prune_once(app)["bins"] == 1
    assert client.get(f"/api/bins/{bin_id}").status_code == 404


def test_a_handshake_to_an_expired_bin_is_410_too(client):
    bin_id = client.post("/api/bins", json={"expires_in_s": 1}).json["id"]
    time.sleep(1.1)
    challenge = client.post(f"/h/{bin_id}", json={"type": "url_verification", "challenge": "abc", "token": "t"})
    assert challenge.status_code == 410


def test_a_bin_without_expiry_says_so_and_keeps_answering(client, bin_id):
    assert client.get(f"/api/bins/{bin_id}").json["expires_at"] is None


@pytest.mark.parametrize("value", [0, -5, 365 * 24 * 3600 + 1, "60", 1.5, True])
def test_bad_expiry_is_a_400(client, value):
    response = client.post("/api/bins", json={"expires_in_s": value})
    assert response.status_code == 400 and "expires_in_s" in response.json["error"]


def test_unknown_create_field_is_a_400(client):
    response = client.post("/api/bins", json={"expires": 60})
    assert response.status_code == 400 and "unknown field" in response.json["error"]
