"""Auto-forward with the forwarder thread that `hookloupe serve` starts, on a real server."""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import LiveServer, free_port
from targets import RecordingTarget

pytestmark = pytest.mark.server


def enable_forward(server: LiveServer, bin_id: str, url: str) -> None:
    response = httpx.patch(f"{server.url}/api/bins/{bin_id}", json={"forward": {"url": url, "enabled": True}})
    assert response.status_code == 200, response.text


def deliveries(server: LiveServer, bin_id: str, capture_id: int) -> list[dict]:
    return httpx.get(f"{server.url}/api/bins/{bin_id}/requests/{capture_id}/deliveries").json()["deliveries"]


def test_down_target_gets_exactly_one_delivery_after_it_comes_up(live_server):
    port = free_port()
    bin_id = live_server.create_bin("fwd-down-up")
    enable_forward(live_server, bin_id, f"http://127.0.0.1:{port}/hook")
    capture_id = httpx.post(f"{live_server.url}/h/{bin_id}/x?y=1", content=b"\x00payload").json()["request_id"]
    time.sleep(1.5)  # at least one refused attempt
    target = RecordingTarget().start(port)
    try:
        received = target.wait_for(1, timeout=20)
        time.sleep(3)  # any duplicate would arrive by now
        assert len(target.received) == 1
        assert (received[0].path, received[0].body) == ("/hook/x?y=1", b"\x00payload")
        attempts = deliveries(live_server, bin_id, capture_id)
        assert attempts[-1]["status_code"] == 200
        assert [d["attempt"] for d in attempts] == list(range(1, len(attempts) + 1))
        assert len(attempts) >= 2 and attempts[0]["error"]
    finally:
        target.stop()


def test_pending_deliveries_resume_after_a_restart(tmp_path):
    port = free_port()
    server = LiveServer(tmp_path).start()
    target = RecordingTarget()
    try:
        bin_id = server.create_bin("fwd-restart")
        enable_forward(server, bin_id, f"http://127.0.0.1:{port}")
        for n in range(3):
            assert httpx.post(f"{server.url}/h/{bin_id}", content=b"%d" % n).status_code == 200
        server.stop()
        target.start(port)
        server.start()
        received = target.wait_for(3, timeout=30)
        time.sleep(2)
        assert sorted(r.body for r in target.received) == [b"0", b"1", b"2"]
        assert len(received) == 3
    finally:
        server.stop()
        target.stop()


def test_a_bin_forwarding_to_itself_does_not_storm(live_server):
    bin_id = live_server.create_bin("fwd-self")
    # The same server under another name than the one the PATCH was made to: not caught by
    # the URL check, so the hop header must stop the loop after one round.
    alias = live_server.url.replace("127.0.0.1", "localhost")
    enable_forward(live_server, bin_id, f"{alias}/h/{bin_id}")
    httpx.post(f"{live_server.url}/h/{bin_id}", content=b"once")
    time.sleep(3)
    listed = httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests").json()["requests"]
    assert len(listed) == 2
    hops = [
        dict(httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests/{s['id']}").json()["headers"]).get(
            "X-Hookloupe-Hop"
        )
        for s in listed
    ]
    assert sorted(h or "0" for h in hops) == ["0", "1"]


def test_forward_to_own_capture_url_is_refused(live_server):
    bin_id = live_server.create_bin("fwd-refuse")
    response = httpx.patch(
        f"{live_server.url}/api/bins/{bin_id}",
        json={"forward": {"url": f"{live_server.url}/h/{bin_id}", "enabled": True}},
    )
    assert response.status_code == 400 and "loop" in response.json()["error"]
