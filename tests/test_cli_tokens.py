"""API tokens from the command line and the client against gunicorn with a password: `listen`
and `wait` work with `--token`/HOOKLOUPE_TOKEN, a bin-bound token reaches its bin only, and no
command prints the token or a password from the URL."""

from __future__ import annotations

import base64
import subprocess
import sys
import time

import httpx
import pytest
from conftest import ROOT, LiveServer
from targets import RecordingTarget

from inspector.client import Client, HookloupeError

PASSWORD = "pw-tok-Kq2-never-printed"
ADMIN = {"Authorization": "Basic " + base64.b64encode(f"me:{PASSWORD}".encode()).decode()}

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("tokens"), env={"HOOKLOUPE_PASSWORD": PASSWORD}, workers=1).start()
    yield live
    live.stop()


def new_bin(server) -> str:
    return httpx.post(f"{server.url}/api/bins", json={}, headers=ADMIN, timeout=10).json()["id"]


def new_token(server, scope: str, bin_id: str | None = None) -> str:
    body = {"label": "cli", "scope": scope, **({"bin": bin_id} if bin_id else {})}
    response = httpx.post(f"{server.url}/api/tokens", json=body, headers=ADMIN, timeout=10)
    assert response.status_code == 201
    return response.json()["token"]


def hookloupe(*argv: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_wait_with_a_token(server):
    bin_id = new_bin(server)
    token = new_token(server, "read", bin_id)
    capture_id = httpx.post(f"{server.url}/h/{bin_id}/paid", json={"ok": 1}, timeout=10).json()["request_id"]
    done = hookloupe("wait", f"{server.url}/bins/{bin_id}", "--after", "0", "--timeout", "5", "--token", token)
    assert done.returncode == 0, done.stderr
    assert f"#{capture_id}" in done.stdout and token not in done.stdout + done.stderr
    from_env = hookloupe(
        "wait", f"{server.url}/h/{bin_id}", "--after", "0", "--timeout", "5", env={"HOOKLOUPE_TOKEN": token}
    )
    assert from_env.returncode == 0, from_env.stderr
    refused = hookloupe("wait", f"{server.url}/bins/{bin_id}", "--timeout", "0")
    assert refused.returncode == 2 and "401" in refused.stderr


def test_a_bin_bound_token_cannot_reach_another_bin(server):
    own, other = new_bin(server), new_bin(server)
    token = new_token(server, "write", own)
    with Client(server.url, token) as client:
        assert client.bin(own).count() == 0
        with pytest.raises(HookloupeError) as refused:
            client.bin(other)
    assert refused.value.status == 403 and own in str(refused.value)
    assert token not in str(refused.value)


def test_listen_relays_with_a_token_and_prints_no_secret(server):
    bin_id = new_bin(server)
    token = new_token(server, "read", bin_id)
    target = RecordingTarget().start()
    process = subprocess.Popen(
        [sys.executable, "-m", "inspector.cli", "listen", f"{server.url}/bins/{bin_id}", "--to", target.url + "/in"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOOKLOUPE_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not target.received:
            httpx.post(f"{server.url}/h/{bin_id}/hook?x=1", content=b"\x00body", timeout=10)
            time.sleep(0.5)
        assert target.received, "nothing was relayed"
        assert (target.received[0].method, target.received[0].path) == ("POST", "/in/hook?x=1")
        assert target.received[0].body == b"\x00body"
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0]
        target.stop()
    assert "listening to" in output and token not in output


def test_listen_never_prints_a_password_from_the_url(server):
    bin_id = new_bin(server)
    with_password = server.url.replace("http://", f"http://me:{PASSWORD}@") + f"/bins/{bin_id}"
    process = subprocess.Popen(
        [sys.executable, "-m", "inspector.cli", "listen", with_password, "--to", "http://127.0.0.1:9/"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(3)
    process.terminate()
    output = process.communicate(timeout=15)[0]
    assert f"listening to {server.url}/bins/{bin_id}" in output
    assert PASSWORD not in output and "me:" not in output


def test_listen_with_a_wrong_token_says_why_and_stops(server):
    bin_id = new_bin(server)
    done = hookloupe("listen", f"{server.url}/bins/{bin_id}", "--to", "http://127.0.0.1:9/", "--token", "hlt_wrong")
    assert done.returncode == 1 and "--token" in done.stderr and "hlt_wrong" not in done.stderr


def test_listen_with_a_malformed_url_exits_2_at_once(server):
    started = time.monotonic()
    done = hookloupe("listen", f"http://me:{PASSWORD}@127.0.0.1:1/nothing", "--to", "http://127.0.0.1:9/")
    assert done.returncode == 2 and time.monotonic() - started < 10
    assert "neither a bin page" in done.stderr and PASSWORD not in done.stderr
