"""`hookloupe listen` against a real gunicorn server and real loopback targets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest
from conftest import ROOT, LiveServer
from targets import RecordingTarget

from inspector.delivery.relay import Relay, RelayError, check_bin_url, local_target, parse_bin_url

pytestmark = pytest.mark.server


def test_parse_bin_url_accepts_page_and_capture_urls():
    assert parse_bin_url("http://h:8000/bins/abc") == ("http://h:8000", "abc")
    assert parse_bin_url("https://h/base/h/abc/github?x=1") == ("https://h/base", "abc")
    with pytest.raises(RelayError):
        parse_bin_url("http://h/nothing/here")


@pytest.mark.parametrize(
    "url",
    [
        "localhost:8000/bins/abc",  # no scheme: not guessed (the password would go in the clear)
        "127.0.0.1:8000/bins/abc",
        "ftp://h/bins/abc",
        "http:///bins/abc",
        "http://h:99999/bins/abc",
        "http://h:port/bins/abc",
        "http://h:0/bins/abc",
        "http://ho st/bins/abc",
        "http://a..b/bins/abc",
        "http://-h-/bins/abc",
        "http://h%41/bins/abc",
        "http://[::1/bins/abc",
    ],
)
def test_malformed_bin_url_is_refused_at_once(url):
    with pytest.raises(RelayError, match="the bin URL"):
        Relay(url, "http://127.0.0.1:9/")


@pytest.mark.parametrize(
    "url",
    ["http://[::1]:8000/bins/abc", "https://hooks.example.com/base/h/abc/x", "http://me:pw@h_1.lan:80/bins/abc"],
)
def test_well_formed_bin_url_is_accepted(url):
    check_bin_url(url)


@pytest.mark.parametrize(
    "url", ["http://me:s3cret@h:99999/bins/a", "me:s3cret@h:8000/bins/a", "http://me:s3cret@[::1/bins/a"]
)
def test_malformed_bin_url_error_never_shows_the_password(url):
    with pytest.raises(RelayError) as refused:
        check_bin_url(url)
    assert "s3cret" not in str(refused.value)


def test_target_without_scheme_means_http():
    assert local_target("localhost:3000/hooks") == "http://localhost:3000/hooks"
    assert local_target("127.0.0.1:3000") == "http://127.0.0.1:3000"
    assert local_target("https://app.test/in?x=1") == "https://app.test/in?x=1"
    for bad in ("ftp://h/x", ":3000/x", "h:99999", "http://u:s3cret@h/x"):
        with pytest.raises(RelayError, match="--to") as refused:
            local_target(bad)
        assert "s3cret" not in str(refused.value)


def test_each_line_shows_the_local_time_of_its_attempt():
    flaky = RecordingTarget(status=503).start()
    times = iter(datetime(2031, 5, 6, 13, 14, 15).astimezone() + timedelta(seconds=n) for n in range(10))
    lines: list[str] = []
    relay = Relay(
        "http://127.0.0.1:9/bins/abc",
        flaky.url,
        out=lines.append,
        attempts=2,
        sleep=lambda _s: None,
        clock=lambda: next(times),
    )
    capture = {
        "id": 7,
        "method": "POST",
        "path": "/in",
        "query_string": "",
        "headers": [["Content-Type", "text/plain"]],
        "body_base64": "aGk=",
        "received_at": "2020-01-01T00:00:00Z",  # the capture's time: not what a line shows
    }
    try:
        relay._send(capture)
        flaky.status = 200
        relay._send(capture)
    finally:
        flaky.stop()
        relay.client.close()
    assert [line[:8] for line in lines] == ["13:14:15", "13:14:16", "13:14:17"]
    assert "retry 1" in lines[0] and "GAVE UP" in lines[1] and "→ 200" in lines[2]
    assert not any("00:00:00" in line for line in lines)


class RunningRelay:
    """A Relay in a background thread, stopped by `stop()`."""

    def __init__(self, server_url: str, bin_id: str, target: str):
        self.lines: list[str] = []
        self.relay = Relay(f"{server_url}/bins/{bin_id}", target, out=self.lines.append, retry_wait_s=0.2)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.relay.run, args=(self._stop.is_set,), daemon=True)

    def start(self) -> RunningRelay:
        self.thread.start()
        deadline = time.monotonic() + 10
        while self.relay.last_id is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # let it open the stream
        return self

    def stop(self) -> None:
        self._stop.set()

    def wait_for_lines(self, count: int, timeout: float = 10.0) -> list[str]:
        """The lines printed so far, once there are `count` (a line follows its delivery's answer)."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.lines


def send_captures(server_url: str, bin_id: str, bodies: list[bytes]) -> list[int]:
    with httpx.Client() as client:
        return [
            client.post(
                f"{server_url}/h/{bin_id}/in/{n}?n={n}",
                content=body,
                headers={"Content-Type": "application/octet-stream"},
            ).json()["request_id"]
            for n, body in enumerate(bodies)
        ]


@pytest.fixture
def target():
    target = RecordingTarget().start()
    yield target
    target.stop()


def test_relays_five_binary_captures_in_order_byte_exact(live_server, target):
    bin_id = live_server.create_bin("relay-five")
    running = RunningRelay(live_server.url, bin_id, target.url + "/local").start()
    try:
        bodies = [os.urandom(300) + bytes([n]) for n in range(5)]
        send_captures(live_server.url, bin_id, bodies)
        received = target.wait_for(5)
        assert [r.body for r in received] == bodies
        assert [r.path for r in received] == [f"/local/in/{n}?n={n}" for n in range(5)]
        assert all(r.header("X-Hookloupe-Hop") == "1" for r in received)
        lines = running.wait_for_lines(6)
        assert len(lines) >= 6 and "→ 200" in lines[-1]
    finally:
        running.stop()


def test_keeps_relaying_across_a_server_restart(tmp_path, target):
    server = LiveServer(tmp_path).start()
    try:
        bin_id = server.create_bin("relay-restart")
        running = RunningRelay(server.url, bin_id, target.url).start()
        first = send_captures(server.url, bin_id, [b"a", b"b", b"c"])
        target.wait_for(3)
        server.stop()
        time.sleep(1)
        server.start()
        second = send_captures(server.url, bin_id, [b"d", b"e", b"f"])
        received = target.wait_for(6, timeout=30)
        deadline = time.monotonic() + 10  # the relay counts after the target's answer
        while running.relay.relayed < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        running.stop()
        assert [r.body for r in received] == [b"a", b"b", b"c", b"d", b"e", b"f"]
        assert running.relay.relayed == 6
        assert first[-1] < second[0]  # (the stream could not survive the restart: it reconnected)
    finally:
        server.stop()


def test_slow_target_loses_nothing(live_server):
    slow = RecordingTarget(delay_s=0.1).start()
    bin_id = live_server.create_bin("relay-slow")
    running = RunningRelay(live_server.url, bin_id, slow.url).start()
    try:
        bodies = [b"burst-%03d" % n for n in range(40)]
        started = time.monotonic()
        send_captures(live_server.url, bin_id, bodies)
        received = slow.wait_for(40, timeout=60)
        elapsed = time.monotonic() - started
        assert [r.body for r in received] == bodies
        print(f"relay throughput to a 100 ms target: {40 / elapsed:.1f} req/s, lost {40 - len(received)}")
    finally:
        running.stop()
        slow.stop()


def test_failing_target_is_retried_and_not_fatal(live_server):
    flaky = RecordingTarget(status=503).start()
    bin_id = live_server.create_bin("relay-flaky")
    running = RunningRelay(live_server.url, bin_id, flaky.url).start()
    try:
        send_captures(live_server.url, bin_id, [b"one"])
        flaky.wait_for(2)
        flaky.status = 200
        send_captures(live_server.url, bin_id, [b"two"])
        deadline = time.monotonic() + 20
        while running.relay.relayed < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.relay.relayed == 2
        assert any("retry 1" in line for line in running.lines)
        assert running.thread.is_alive()
    finally:
        running.stop()
        flaky.stop()


def test_cli_listen_prints_lines_and_exits_cleanly_on_ctrl_c(live_server, target):
    bin_id = live_server.create_bin("relay-cli")
    process = subprocess.Popen(
        [sys.executable, "-m", "inspector.cli", "listen", f"{live_server.url}/h/{bin_id}", "--to", target.url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "listening to" in process.stdout.readline()
        time.sleep(0.5)
        send_captures(live_server.url, bin_id, [b"x"])
        line = process.stdout.readline()
        assert "POST" in line and "/in/0?n=0" in line and "→ 200" in line
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped: 1 relayed, 0 failed" in output


def test_cli_listen_reports_an_unknown_bin(live_server):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inspector.cli",
            "listen",
            f"{live_server.url}/bins/no-such-bin",
            "--to",
            "http://127.0.0.1:9",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "does not exist" in result.stderr


def listen(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inspector.cli", "listen", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_listen_exits_2_at_once_on_a_malformed_url():
    started = time.monotonic()
    for args in (
        ["localhost:8000/bins/abc", "--to", "http://127.0.0.1:9/"],
        ["http://me:s3cret@127.0.0.1:70000/bins/abc", "--to", "http://127.0.0.1:9/"],
        ["http://127.0.0.1:8000/bins/abc", "--to", "ftp://127.0.0.1/"],
    ):
        done = listen(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("hookloupe listen: ") and "s3cret" not in done.stderr + done.stdout
    assert time.monotonic() - started < 20  # never retried


def test_cli_listen_retries_a_refused_server_until_it_is_back(tmp_path, target):
    server = LiveServer(tmp_path).start()
    bin_id = server.create_bin("relay-refused")
    server.stop()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inspector.cli",
            "listen",
            f"{server.url}/bins/{bin_id}",
            "--to",
            target.url.removeprefix("http://"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "cannot reach" in process.stdout.readline()  # refused: retried, not fatal
        server.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not target.received:
            if process.poll() is not None:
                break
            httpx.post(f"{server.url}/h/{bin_id}/back", content=b"again", timeout=10)
            time.sleep(0.5)
        assert target.received and target.received[0].body == b"again"
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=15)[0]
        server.stop()
    assert process.returncode == 0, output
    assert "listening to" in output
