"""A real `hookloupe serve` (gunicorn) on a free loopback port, fed raw bytes over a socket."""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
import threading
import time

import httpx
import pytest
from conftest import PG_URL, LiveServer, _reset_postgres

pytestmark = pytest.mark.server


def raw_exchange(server: LiveServer, head: bytes, body_parts=(), timeout: float = 30) -> tuple[int, bytes]:
    """Send `head` then each body part on one socket; return (status, response body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Read one HTTP response from `sock`: (status, body framed by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    header_block, _, rest = data.partition(b"\r\n\r\n")
    status = int(header_block.split(b" ", 2)[1])
    length = 0
    for line in header_block.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, rest


def stored(server: LiveServer, bin_id: str, capture_id: int) -> dict:
    response = httpx.get(f"{server.url}/api/bins/{bin_id}/requests/{capture_id}", timeout=30)
    assert response.status_code == 200
    return response.json()


def post_head(bin_id: str, extra: str = "", length: int | None = None, path: str = "") -> bytes:
    lines = [f"POST /h/{bin_id}{path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_binary_body_over_a_socket_is_byte_exact(live_server):
    bin_id = live_server.create_bin("raw-bin")
    body = bytes(range(256)) * 4
    status, answer = raw_exchange(
        live_server, post_head(bin_id, "Content-Type: application/octet-stream", len(body)), [body]
    )
    assert status == 200
    got = stored(live_server, bin_id, json.loads(answer)["request_id"])
    assert base64.b64decode(got["body_base64"]) == body
    assert got["body_size"] == len(body)


def test_chunked_body_is_stored_decoded_from_its_framing(live_server):
    bin_id = live_server.create_bin("chunk-bin")
    parts = [b"hello ", b"\x00chunked", b" world" * 1000]
    framed = [b"%x\r\n%s\r\n" % (len(p), p) for p in parts] + [b"0\r\n\r\n"]
    status, answer = raw_exchange(live_server, post_head(bin_id, "Transfer-Encoding: chunked"), framed)
    assert status == 200
    got = stored(live_server, bin_id, json.loads(answer)["request_id"])
    assert base64.b64decode(got["body_base64"]) == b"".join(parts)
    assert ["Transfer-Encoding", "chunked"] in got["headers"]


def half_closed_exchange(server: LiveServer, data: bytes) -> tuple[int, bytes]:
    """Send `data`, then close our sending side (the client gave up) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    body, _, _ = rest.partition(b"HTTP/1.1 ")  # gunicorn may add its own answer to the broken stream
    return int(head.split(b" ", 2)[1]), body


def test_body_shorter_than_its_content_length_is_400_and_stored_incomplete(live_server):
    bin_id = live_server.create_bin("short-bin")
    status, answer = half_closed_exchange(live_server, post_head(bin_id, length=100) + b"only this much")
    assert status == 400
    answer = json.loads(answer)
    assert "incomplete" in answer["error"]
    got = stored(live_server, bin_id, answer["request_id"])
    assert base64.b64decode(got["body_base64"]) == b"only this much"
    assert (got["body_incomplete"], got["body_size"]) == (True, 14)


@pytest.mark.parametrize(
    "framing",
    [b"5\r\nhello\r\nzz\r\n", b"5\r\nhello\r\n", b"5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n"],
    ids=["bad-size", "no-last-chunk", "missing-crlf"],
)
def test_broken_chunked_framing_is_400_and_stored_incomplete(live_server, framing):
    bin_id = live_server.create_bin()
    status, answer = half_closed_exchange(live_server, post_head(bin_id, "Transfer-Encoding: chunked") + framing)
    assert status == 400
    got = stored(live_server, bin_id, json.loads(answer)["request_id"])
    assert got["body_incomplete"] is True
    assert base64.b64decode(got["body_base64"]) in (b"", b"hello")
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200


def test_a_huge_declared_api_body_is_refused_before_it_is_sent(live_server):
    bin_id = live_server.create_bin()
    head = (
        f"PATCH /api/bins/{bin_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 1073741824\r\n\r\n"
    )
    started = time.monotonic()
    status, answer = raw_exchange(live_server, head.encode(), [b"{"], timeout=10)
    assert status == 413 and time.monotonic() - started < 5
    assert "limit" in json.loads(answer)["error"]


def test_gzip_body_is_stored_compressed_as_received(live_server):
    bin_id = live_server.create_bin("gzip-bin")
    body = gzip.compress(json.dumps({"n": list(range(500))}).encode())
    response = httpx.post(f"{live_server.url}/h/{bin_id}", content=body, headers={"Content-Encoding": "gzip"})
    got = stored(live_server, bin_id, response.json()["request_id"])
    assert base64.b64decode(got["body_base64"]) == body


def test_five_mib_body_round_trips(live_server):
    bin_id = live_server.create_bin("big-bin")
    body = os.urandom(5 * 1024 * 1024)
    response = httpx.put(f"{live_server.url}/h/{bin_id}/upload", content=body, timeout=60)
    assert response.status_code == 200
    raw = httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests/{response.json()['request_id']}/raw", timeout=60)
    assert raw.content == body


def test_eleven_mib_body_is_413_and_recorded_truncated(live_server):
    bin_id = live_server.create_bin("huge-bin")
    body = os.urandom(11 * 1024 * 1024)
    status, answer = raw_exchange(live_server, post_head(bin_id, length=len(body)), [body], timeout=60)
    assert status == 413
    answer = json.loads(answer)
    got = stored(live_server, bin_id, answer["request_id"])
    assert got["body_truncated"] is True
    assert got["body_size"] == len(body)
    assert base64.b64decode(got["body_base64"]) == body[: 10 * 1024 * 1024]


def test_custom_methods_and_head_are_captured(live_server):
    bin_id = live_server.create_bin("method-bin")
    for method in ("PURGE", "HEAD", "OPTIONS", "PROPFIND"):
        assert httpx.request(method, f"{live_server.url}/h/{bin_id}/m").status_code == 200
    listed = httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests").json()["requests"]
    assert sorted(s["method"] for s in listed) == ["HEAD", "OPTIONS", "PROPFIND", "PURGE"]


def test_raw_path_keeps_percent_encoding(live_server):
    bin_id = live_server.create_bin("path-bin")
    _status, answer = raw_exchange(live_server, post_head(bin_id, length=0, path="/a%2Fb/%3Cx%3E?k=%20"))
    got = stored(live_server, bin_id, json.loads(answer)["request_id"])
    assert (got["path"], got["query_string"]) == ("/a%2Fb/%3Cx%3E", "k=%20")


def read_events(url: str, headers: dict, want: int, timeout: float = 10) -> list[dict]:
    """Read `want` SSE `request` events from `url`; returns [{"id", "data"}]."""
    events = []
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200
        current = {}
        for line in response.iter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:]) if line[6:].startswith("{") else line[6:]
            elif line == "" and "id" in current:
                events.append(current)
                current = {}
                if len(events) == want:
                    break
    return events


def test_event_stream_resumes_after_last_event_id(live_server):
    bin_id = live_server.create_bin("sse-bin")
    ids = [httpx.post(f"{live_server.url}/h/{bin_id}", content=b"%d" % n).json()["request_id"] for n in range(4)]
    events = read_events(f"{live_server.url}/api/bins/{bin_id}/events", {"Last-Event-ID": str(ids[1])}, want=2)
    assert [e["id"] for e in events] == ids[2:]
    assert events[0]["data"]["body_size"] == 1


def test_event_stream_delivers_live_captures_from_any_worker(live_server):
    bin_id = live_server.create_bin("live-bin")
    got = []
    reader = threading.Thread(
        target=lambda: got.extend(read_events(f"{live_server.url}/api/bins/{bin_id}/events", {}, want=6))
    )
    reader.start()
    time.sleep(0.5)
    sent = [httpx.post(f"{live_server.url}/h/{bin_id}", content=b"x").json()["request_id"] for _ in range(6)]
    reader.join(timeout=15)
    assert [e["id"] for e in got] == sent


def test_open_streams_never_starve_capture(tmp_path):
    """More streams than a worker may hold: the extra ones get 503, capture stays fast."""
    server = LiveServer(tmp_path, env={"HOOKLOUPE_STREAM_MAX_PER_WORKER": "2"}, workers=1).start()
    try:
        bin_id = server.create_bin("busy-bin")
        streams = [httpx.Client(timeout=10) for _ in range(4)]
        opened = []
        for client in streams:
            response = client.send(client.build_request("GET", f"{server.url}/api/bins/{bin_id}/events"), stream=True)
            opened.append(response)
        assert sorted(r.status_code for r in opened) == [200, 200, 503, 503]
        assert all(r.headers.get("Retry-After") for r in opened if r.status_code == 503)
        # A starved capture would wait for a held thread and time out here.
        for _ in range(20):
            assert httpx.post(f"{server.url}/h/{bin_id}", content=b"x", timeout=5).status_code == 200
        for response, client in zip(opened, streams, strict=False):
            response.close()
            client.close()
    finally:
        server.stop()


def test_held_connections_never_starve_capture(tmp_path):
    """One worker holding half-sent headers, requests waiting on a delayed answer and open live
    pages at once (gevent: each is a greenlet): a capture to another bin is still answered."""
    server = LiveServer(tmp_path, workers=1).start()
    held: list[socket.socket] = []
    try:
        quiet, delayed, watched = server.create_bin(), server.create_bin(), server.create_bin()
        patch = {"response": {"delay_ms": 6_000}}
        assert httpx.patch(f"{server.url}/api/bins/{delayed}", json=patch).status_code == 200
        requests = (
            [b"POST /h/x HTTP/1.1\r\nHost: a\r\nX-Trickle: 1\r\n"] * 150  # headers never finished
            + [f"POST /h/{delayed} HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n".encode()] * 50
            + [f"GET /bins/{watched}/stream HTTP/1.1\r\nHost: a\r\n\r\n".encode()] * 50
        )
        for data in requests:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(data)
            held.append(sock)
        time.sleep(0.5)
        for _ in range(10):
            # A starved capture would wait for a held connection to end (6 s) and time out.
            assert httpx.post(f"{server.url}/h/{quiet}", content=b"x", timeout=3).status_code == 200
        assert httpx.get(f"{server.url}/api/bins/{quiet}/stats", timeout=3).json()["request_count"] == 10
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_stalled_body_and_bad_host_on_a_short_idle_timeout(tmp_path):
    """A body that stops arriving is cut off after IDLE_TIMEOUT_S and stored as incomplete; a
    request without a valid Host is refused and not stored; stopping does not wait for pages."""
    server = LiveServer(tmp_path, env={"HOOKLOUPE_IDLE_TIMEOUT_S": "1"}, workers=1).start()
    try:
        bin_id = server.create_bin()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(post_head(bin_id, length=100) + b"a start")  # ... and then nothing
            status, answer = read_response(sock)
        assert status == 400 and time.monotonic() - started < 5
        request_id = json.loads(answer)["request_id"]
        assert stored(server, bin_id, request_id)["body_incomplete"] is True
        for head in (f"POST /h/{bin_id} HTTP/1.1\r\n", f"POST /h/{bin_id} HTTP/1.1\r\nHost: a b\r\n"):
            status, answer = raw_exchange(server, (head + "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
            assert status == 400 and b"Host" in answer
        assert httpx.get(f"{server.url}/api/bins/{bin_id}").json()["request_count"] == 1
        page = httpx.Client(timeout=10)
        stream = page.send(page.build_request("GET", f"{server.url}/bins/{bin_id}/stream"), stream=True)
        assert stream.status_code == 200
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 8  # graceful_timeout is 15 s: the stream ended itself
        stream.close()
        page.close()
    finally:
        server.stop()


@pytest.mark.postgres
def test_postgres_server_with_several_workers(tmp_path):
    if not PG_URL:
        pytest.skip("needs HOOKLOUPE_TEST_DATABASE_URL (.ci/run sets it)")
    _reset_postgres(PG_URL)
    server = LiveServer(tmp_path, env={"HOOKLOUPE_DATABASE_URL": PG_URL}, workers=3).start()
    try:
        bin_id = server.create_bin("pg-bin")
        body = bytes(range(256))
        results = []

        def send(n):
            with httpx.Client() as client:
                for _ in range(n):
                    results.append(client.post(f"{server.url}/h/{bin_id}", content=body).status_code)

        threads = [threading.Thread(target=send, args=(25,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results.count(200) == 100
        assert httpx.get(f"{server.url}/api/bins/{bin_id}").json()["request_count"] == 100
        first = httpx.get(f"{server.url}/api/bins/{bin_id}/requests?limit=1").json()["requests"][0]
        assert base64.b64decode(stored(server, bin_id, first["id"])["body_base64"]) == body
    finally:
        server.stop()
