"""Replay and auto-forward against real loopback targets, on every backend."""

import base64
import threading
from datetime import UTC, datetime, timedelta

import pytest
from targets import RecordingTarget

from inspector import store
from inspector.delivery.forward import forward_next, retry_delay


@pytest.fixture
def target():
    target = RecordingTarget().start()
    yield target
    target.stop()


def capture(client, bin_id, path="/github?x=1", body=b'{"a": 1}', headers=None):
    response = client.post(
        f"/h/{bin_id}{path}", data=body, headers=headers or {"Content-Type": "application/json", "X-Sig": "abc"}
    )
    return response.json["request_id"]


def test_replay_arrives_byte_exact_with_path_query_and_headers(client, bin_id, target):
    body = bytes(range(256))
    capture_id = capture(client, bin_id, body=body)
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": target.url + "/in"})
    assert response.status_code == 201
    delivery = response.json
    assert delivery["status_code"] == 200 and delivery["error"] is None
    assert delivery["request_id"] == capture_id and delivery["attempt"] == 1
    assert base64.b64decode(delivery["response_body_base64"]) == b'{"received": true}'
    got = target.wait_for(1)[0]
    assert (got.method, got.path, got.body) == ("POST", "/in/github?x=1", body)
    assert got.header("X-Sig") == "abc" and got.header("X-Hookloupe-Hop") == "1"
    assert got.header("Content-Length") == "256"


def test_replay_with_edits_sends_the_edits_and_says_so(client, bin_id, target):
    capture_id = capture(client, bin_id)
    edit = {
        "url": target.url,
        "method": "PUT",
        "headers": [["X-Edited", "yes"]],
        "body_base64": base64.b64encode(b"new").decode(),
    }
    delivery = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json=edit).json
    got = target.wait_for(1)[0]
    assert (got.method, got.body, got.header("X-Edited"), got.header("X-Sig")) == ("PUT", b"new", "yes", None)
    assert delivery["note"] == "edited before sending: method, headers, body"


def test_replay_to_a_dead_target_is_a_delivery_with_an_error(client, bin_id):
    dead = RecordingTarget().start()
    dead.stop()
    capture_id = capture(client, bin_id)
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": dead.url})
    assert response.status_code == 201
    assert response.json["status_code"] is None and response.json["error"]
    listed = client.get(f"/api/bins/{bin_id}/requests/{capture_id}/deliveries").json["deliveries"]
    assert [d["id"] for d in listed] == [response.json["id"]]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"url": "ftp://x"},
        {"url": "http://localhost/h/test-bin"},
        {"url": "http://127.0.0.1:1", "method": "BAD METHOD"},
        {"url": "http://127.0.0.1:1", "headers": [["X", "a\r\nb"]]},
        {"url": "http://127.0.0.1:1", "body_base64": "!!"},
    ],
)
def test_bad_replay_requests_are_400(client, bin_id, payload):
    capture_id = capture(client, bin_id)
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json=payload)
    assert response.status_code == 400 and response.json["error"]


def test_replay_to_metadata_address_is_refused_and_recorded(client, bin_id):
    capture_id = capture(client, bin_id)
    delivery = client.post(
        f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": "http://169.254.169.254/x"}
    ).json
    assert delivery["error"].startswith("refused:")


def test_forwarding_to_own_capture_url_is_refused(client, bin_id):
    response = client.patch(
        f"/api/bins/{bin_id}", json={"forward": {"url": f"http://localhost/h/{bin_id}", "enabled": True}}
    )
    assert response.status_code == 400 and "loop" in response.json["error"]


def enable_forward(client, bin_id, url):
    assert client.patch(f"/api/bins/{bin_id}", json={"forward": {"url": url, "enabled": True}}).status_code == 200


def test_auto_forward_queues_and_delivers_once(app, client, bin_id, target):
    enable_forward(client, bin_id, target.url + "/fwd")
    capture_id = capture(client, bin_id, body=b"\x00\x01")
    assert forward_next(app) is True
    assert forward_next(app) is False
    got = target.wait_for(1)
    assert len(got) == 1 and got[0].path == "/fwd/github?x=1" and got[0].body == b"\x00\x01"
    deliveries = client.get(f"/api/bins/{bin_id}/requests/{capture_id}/deliveries").json["deliveries"]
    assert [(d["kind"], d["attempt"], d["status_code"]) for d in deliveries] == [("forward", 1, 200)]


def test_capture_carrying_a_hop_header_is_not_forwarded(app, client, bin_id, target):
    enable_forward(client, bin_id, target.url)
    capture(client, bin_id, headers={"X-Hookloupe-Hop": "1"})
    assert forward_next(app) is False
    assert target.received == []


def test_down_target_is_retried_with_backoff_then_delivered_once(app, client, bin_id):
    target = RecordingTarget().start()
    port = target.port
    target.stop()
    enable_forward(client, bin_id, f"http://127.0.0.1:{port}")
    capture_id = capture(client, bin_id)
    now = datetime.now(UTC)
    assert forward_next(app, now) is True  # attempt 1: refused connection
    assert forward_next(app, now) is False  # backing off: not due yet
    target.start(port)
    try:
        assert forward_next(app, now + timedelta(seconds=2)) is True  # attempt 2 succeeds
        assert forward_next(app, now + timedelta(hours=1)) is False  # nothing left
        assert len(target.wait_for(1)) == 1
        deliveries = client.get(f"/api/bins/{bin_id}/requests/{capture_id}/deliveries").json["deliveries"]
        assert [(d["attempt"], d["status_code"]) for d in deliveries] == [(1, None), (2, 200)]
    finally:
        target.stop()


def test_attempts_stop_at_the_maximum(app, client, bin_id):
    failing = RecordingTarget(status=503).start()
    try:
        app.config["FORWARD_MAX_ATTEMPTS"] = 3
        enable_forward(client, bin_id, failing.url)
        capture(client, bin_id)
        later = datetime.now(UTC)
        for _ in range(5):
            later += timedelta(minutes=5)
            forward_next(app, later)
        assert len(failing.received) == 3
        with app.app_context():
            assert store.pending_forward_jobs() == 0
    finally:
        failing.stop()


def test_client_errors_are_not_retried(app, client, bin_id):
    rejecting = RecordingTarget(status=400).start()
    try:
        enable_forward(client, bin_id, rejecting.url)
        capture(client, bin_id)
        later = datetime.now(UTC)
        for _ in range(3):
            later += timedelta(minutes=5)
            forward_next(app, later)
        assert len(rejecting.received) == 1
    finally:
        rejecting.stop()


def test_backoff_doubles_from_one_second():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]


def test_concurrent_workers_never_claim_the_same_job(app, client, bin_id, target):
    enable_forward(client, bin_id, target.url)
    for _ in range(12):
        capture(client, bin_id)
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        while forward_next(app):
            pass

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    received = target.wait_for(12)
    assert len(received) == 12
    with app.app_context():
        assert store.pending_forward_jobs() == 0


def test_an_expired_lease_is_claimed_again(app, client, bin_id, target):
    enable_forward(client, bin_id, target.url)
    capture(client, bin_id)
    now = datetime.now(UTC)
    with app.app_context():
        assert store.claim_forward_job(now, now + timedelta(seconds=30), "dead-worker") is not None
        assert store.claim_forward_job(now, now + timedelta(seconds=30), "other") is None
    assert forward_next(app, now + timedelta(seconds=31)) is True
    assert len(target.wait_for(1)) == 1


# --- re-signing -------------------------------------------------------------------------


def stripe_capture(client, bin_id, secret, at):
    from inspector.signing.samples import build_sample

    sample = build_sample("stripe", secret=secret, at=at)
    return client.post(f"/h/{bin_id}", data=sample.body, headers=sample.headers).json["request_id"]


def test_resign_on_replay_gives_a_fresh_valid_stripe_signature(client, bin_id, target):
    import hashlib
    import hmac
    import time

    secret = "whsec_resign_test_secret"
    client.post(f"/api/bins/{bin_id}/secrets", json={"label": "stripe", "value": secret, "provider": "stripe"})
    old = datetime.now(UTC) - timedelta(hours=3)
    capture_id = stripe_capture(client, bin_id, secret, old)
    edited = base64.b64encode(b'{"id":"evt_edit","type":"charge.refunded"}').decode()
    delivery = client.post(
        f"/api/bins/{bin_id}/requests/{capture_id}/replay",
        json={"url": target.url, "resign": True, "body_base64": edited},
    ).json
    assert "re-signed Stripe-Signature" in delivery["note"] and "edited before sending: body" in delivery["note"]
    got = target.wait_for(1)[0]
    header = dict(part.split("=", 1) for part in got.header("Stripe-Signature").split(","))
    assert abs(int(header["t"]) - time.time()) < 60
    expected = hmac.new(secret.encode(), f"{header['t']}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert header["v1"] == expected and got.body == b'{"id":"evt_edit","type":"charge.refunded"}'
    stripe = pytest.importorskip("stripe")
    stripe.WebhookSignature.verify_header(got.body.decode(), got.header("Stripe-Signature"), secret, tolerance=300)


def test_resign_without_a_secret_is_400(client, bin_id, target):
    capture_id = stripe_capture(client, bin_id, "whsec_x", datetime.now(UTC))
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": target.url, "resign": True})
    assert response.status_code == 400 and "no secret for Stripe" in response.json["error"]
    assert target.received == []


def test_resign_of_an_unknown_sender_is_400(client, bin_id, target):
    capture_id = capture(client, bin_id)
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": target.url, "resign": True})
    assert response.status_code == 400 and "no provider" in response.json["error"]
