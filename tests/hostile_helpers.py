"""Helpers for the hostile-input suites: raw HTTP/1.1 exchanges over a socket, a small
response parser, and the checks that a live server survived a case (healthy, no 5xx, no new
traceback in its log, an earlier capture still byte-exact)."""

from __future__ import annotations

import base64
import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx
from conftest import LiveServer

CRLF = "\r\n"


@dataclass(frozen=True)
class Answer:
    """One HTTP response read off the wire (interim 1xx answers included)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), None when absent."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


@dataclass(frozen=True)
class Exchange:
    """What came back on one connection: the parsed answers, whether the server closed the
    connection (False: it was still open when we stopped waiting), bytes that did not parse
    as a complete response, how long the exchange took, and when the first byte came back."""

    answers: tuple[Answer, ...]
    closed: bool
    leftover: bytes
    elapsed: float
    first_byte_after: float | None

    @property
    def statuses(self) -> list[int]:
        return [a.status for a in self.answers]

    def describe(self) -> str:
        """A one-line account for assertion messages."""
        state = "closed" if self.closed else "left open"
        said = [a.body[:120] for a in self.answers if a.status >= 400]
        return f"answers {self.statuses} {said}, connection {state}, leftover {self.leftover[:80]!r}"


def request_bytes(
    request_line: str,
    headers: Sequence[str] = (),
    body: bytes = b"",
    *,
    host: bool = True,
    close: bool = True,
) -> bytes:
    """A request head (and body) from text lines; adds `Host` and `Connection: close` unless told not to."""
    lines = [request_line]
    if host:
        lines.append("Host: 127.0.0.1")
    lines.extend(headers)
    if close:
        lines.append("Connection: close")
    return (CRLF.join(lines) + CRLF + CRLF).encode("latin-1") + body


def chunked(*parts: bytes) -> bytes:
    """`parts` in chunked framing, with the terminating zero-size chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"


class _Reader:
    """Collects what the server sends on one socket, without ever raising for it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""
        self.closed = False
        self.first_at: float | None = None

    def pull(self, wait: float) -> bool:
        """Read what arrives within `wait` s; False when nothing did (or the server closed)."""
        if self.closed:
            return False
        ready, _, _ = select.select([self.sock], [], [], max(0.0, wait))
        if not ready:
            return False
        try:
            chunk = self.sock.recv(65536)
        except OSError:  # a reset: the server is gone
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        if self.first_at is None:
            self.first_at = time.monotonic()
        self.data += chunk
        return True


def exchange(
    port: int,
    *parts: bytes,
    pause: float = 0.0,
    half_close: bool = False,
    timeout: float = 5.0,
    answers: int | None = None,
    grace: float = 0.3,
) -> Exchange:
    """Send `parts` on one connection (sleeping `pause` s between them), optionally shut our
    writing side, then read until the server closes or `timeout` s pass. With `answers`, stop
    once that many final answers are complete and `grace` s bring nothing more. What the
    server sends while we are still sending is kept (an early 413 before a reset)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        reader = _Reader(sock)
        try:
            for index, part in enumerate(parts):
                if index and pause:
                    time.sleep(pause)
                sock.sendall(part)
                while reader.pull(0):
                    pass
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server refused and closed before we finished sending
            pass
        deadline = started + timeout
        while not reader.closed and time.monotonic() < deadline:
            complete = parse_answers(reader.data, closed=False)[0]
            if answers is not None and len([a for a in complete if a.status >= 200]) >= answers:
                if not reader.pull(grace):
                    break
            else:
                reader.pull(deadline - time.monotonic())
    found, leftover = parse_answers(reader.data, closed=reader.closed)
    first = reader.first_at - started if reader.first_at is not None else None
    return Exchange(tuple(found), reader.closed, leftover, time.monotonic() - started, first)


def parse_answers(data: bytes, *, closed: bool = True) -> tuple[list[Answer], bytes]:
    """Every complete HTTP/1.x response in `data`, and the bytes after the last one. A body
    delimited by the end of the connection is complete only when `closed`."""
    answers = []
    while data.startswith(b"HTTP/") and b"\r\n\r\n" in data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = tuple((n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in header_lines))
        found = Answer(status, headers, b"")
        length = found.header("Content-Length")
        if status < 200 or status in (204, 304):
            body, after = b"", rest
        elif (found.header("Transfer-Encoding") or "").lower() == "chunked":
            dechunked = _dechunk(rest)
            if dechunked is None:
                break
            body, after = dechunked
        elif length is not None and length.isdigit():
            if len(rest) < int(length):
                break
            body, after = rest[: int(length)], rest[int(length) :]
        elif closed:
            body, after = rest, b""
        else:
            break
        answers.append(Answer(status, headers, body))
        data = after
    return answers, data


def _dechunk(data: bytes) -> tuple[bytes, bytes] | None:
    """A chunked response body and what follows it; None while it is incomplete."""
    body = b""
    while b"\r\n" in data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            if b"\r\n" not in data:
                return None
            return body, data.partition(b"\r\n")[2]
        if len(data) < size + 2:
            return None
        body, data = body + data[:size], data[size + 2 :]
    return None


@dataclass
class Sentinel:
    """A capture made at module start; `check` proves it is still stored byte for byte."""

    bin_id: str
    capture_id: int
    body: bytes

    def check(self, client: httpx.Client) -> None:
        base = f"/api/bins/{self.bin_id}/requests/{self.capture_id}"
        detail = client.get(base)
        assert detail.status_code == 200, f"sentinel capture gone: {detail.status_code} {detail.text[:200]}"
        got = detail.json()
        assert base64.b64decode(got["body_base64"]) == self.body, "sentinel body changed"
        assert got["body_size"] == len(self.body) and got["body_truncated"] is False
        assert ["X-Sentinel", "kept"] in got["headers"]
        raw = client.get(base + "/raw")
        assert raw.status_code == 200 and raw.content == self.body, "sentinel raw download changed"


def make_sentinel(server: LiveServer, bin_name: str) -> Sentinel:
    """Create `bin_name` and store one binary capture in it over a raw socket."""
    created = httpx.post(server.url + "/api/bins", json={"name": bin_name}, auth=_auth_of(server), timeout=10)
    assert created.status_code == 201, created.text
    bin_id = created.json()["id"]
    body = bytes(range(256)) + b"\r\n\x00sentinel\xff"
    head = request_bytes(
        f"POST /h/{bin_id}/sentinel?k=v HTTP/1.1",
        ["X-Sentinel: kept", "Content-Type: application/octet-stream", f"Content-Length: {len(body)}"],
    )
    got = exchange(server.port, head + body)
    assert got.statuses == [200], f"the sentinel capture failed: {got.describe()}"
    capture_id = int(json.loads(got.answers[0].body)["request_id"])
    return Sentinel(bin_id, capture_id, body)


class Survival:
    """After-case checks for one live server: it answers /healthz, the sentinel capture is
    intact, and its log gained no traceback (an exception some answer or stream hid).
    `client` talks to the server (with its password, if it has one)."""

    def __init__(self, server: LiveServer, sentinel: Sentinel) -> None:
        self.server = server
        self.sentinel = sentinel
        # No kept-alive connections: the server closes idle ones after its header timeout.
        self.client = httpx.Client(
            base_url=server.url,
            timeout=30,
            auth=_auth_of(server),
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._log_offset = server.log_path.stat().st_size

    def __repr__(self) -> str:  # short: hypothesis prints it beside every falsifying example
        return f"Survival({self.server.url})"

    def check(self) -> None:
        """Raise AssertionError naming the first way the server did not survive."""
        health = self.client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"ok": True}, f"/healthz answered {health.status_code}"
        self.sentinel.check(self.client)
        log = self.server.log_path.read_bytes()
        new, self._log_offset = log[self._log_offset :], len(log)
        assert b"Traceback" not in new, "the server logged a traceback:\n" + new.decode("utf-8", "replace")[-3000:]

    @contextlib.contextmanager
    def around(self) -> Iterator[None]:
        """Run the case, then `check()` even when the case failed (both failures are reported)."""
        self.skip_earlier_log()
        try:
            yield
        except BaseException as failure:
            try:
                self.check()
            except AssertionError as also:
                raise AssertionError(f"{failure}\n--- and afterwards: {also}") from failure
            raise
        self.check()

    def skip_earlier_log(self) -> None:
        """Skip what the log gained before the case (another test's noise is not this case's)."""
        self._log_offset = self.server.log_path.stat().st_size


def _auth_of(server: LiveServer) -> tuple[str, str] | None:
    password = server.env.get("HOOKLOUPE_PASSWORD")
    return ("hookloupe", password) if password else None


def request_count(client: httpx.Client, bin_id: str) -> int:
    """The bin's stored capture count (Bin.request_count)."""
    response = client.get(f"/api/bins/{bin_id}")
    assert response.status_code == 200, response.text
    return int(response.json()["request_count"])


def newest_capture(client: httpx.Client, bin_id: str) -> dict:
    """The full Request JSON of the bin's newest capture."""
    listed = client.get(f"/api/bins/{bin_id}/requests", params={"limit": 1})
    assert listed.status_code == 200, listed.text
    newest = listed.json()["requests"][0]
    return client.get(f"/api/bins/{bin_id}/requests/{newest['id']}").json()
