"""deploy/'s topology, run on this machine without Docker: Caddy with deploy/Caddyfile in front of
two `hookloupe serve` processes sharing a fresh PostgreSQL database. Through the proxy, every
acknowledged capture is stored once, a live stream on one instance shows captures that arrived
at the other within a second, auto-forward delivers each capture once with both instances
running, and a kill -9 of one instance under load loses nothing acknowledged.
Caddyfile.capture-only exposes only /h/ and /healthz."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import PG_URL, ROOT, free_port
from faults_helpers import FAULT_ENV, Load, assert_every_acknowledged_capture_stored_once
from sqlalchemy import make_url
from targets import RecordingTarget

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.deploy]

DEPLOY = ROOT / "deploy"
CADDY = shutil.which("caddy")
# Plain HTTP on loopback, no admin endpoint (its config is saved under the test's HOME): the rest is deploy/'s file as it is.
GLOBAL_OPTIONS = "{\n\tadmin off\n\tauto_https off\n}\n\n"
STARTUP_S = 30


class Instance:
    """One `hookloupe serve` in its own process group, so kill -9 takes master and workers."""

    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]):
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "HOOKLOUPE_INSTANCE_PATH": str(tmp_path / name)}
        self.log_path = tmp_path / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Instance:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inspector.cli", "serve", "--port", str(self.port), "--workers", "2"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_healthy(self) -> None:
        wait_for(f"{self.url}/healthz", self.process, self.log_path)

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once, as when a container dies."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM to the master (a graceful stop); `wait` for it to end."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_for(url: str, process: subprocess.Popen | None, log_path: Path) -> None:
    """Wait until `url` answers 200; fail with the log's end when the process exits or stalls."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"{log_path.name} exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {STARTUP_S} s: {log_path.read_text()[-2000:]}")


class Caddy:
    """`caddy run` on one of deploy/'s Caddyfiles, with the test's global options."""

    def __init__(self, caddyfile: str, tmp_path: Path, env: dict[str, str], port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home = tmp_path / f"caddy-{self.port}"
        home.mkdir()
        self.config = home / "Caddyfile"
        self.config.write_text(GLOBAL_OPTIONS + (DEPLOY / caddyfile).read_text())
        self.log_path = home / "caddy.log"
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "HOOKLOUPE_DOMAIN": self.url,
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Caddy:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [CADDY or "caddy", "run", "--config", str(self.config), "--adapter", "caddyfile"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(f"{self.url}/healthz", self.process, self.log_path)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Topology:
    def __init__(self, a: Instance, b: Instance, caddy: Caddy, upstreams: str):
        self.a, self.b, self.caddy, self.upstreams = a, b, caddy, upstreams
        self.url = caddy.url

    def create_bin(self, name: str) -> str:
        response = httpx.post(f"{self.url}/api/bins", json={"name": name}, timeout=10)
        response.raise_for_status()
        return response.json()["id"]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for this module (never the shared `test` one), dropped after."""
    if CADDY is None:
        pytest.skip("the deploy test needs Caddy (Debian: apt-get install caddy; .ci/run installs it)")
    if not PG_URL:
        pytest.skip("the deploy test needs HOOKLOUPE_TEST_DATABASE_URL (.ci/run sets it)")
    name = f"h_deploy_{secrets.token_hex(4)}"
    server = make_url(PG_URL).set(drivername="postgresql")
    admin = server.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def topology(database, tmp_path_factory) -> Iterator[Topology]:
    """Instances A and B as compose.yaml configures them, behind Caddy with deploy/Caddyfile."""
    tmp_path = tmp_path_factory.mktemp("deploy")
    caddy_port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("HOOKLOUPE_")}
    env |= FAULT_ENV | {
        "HOOKLOUPE_DATABASE_URL": database,
        "HOOKLOUPE_SECRET_KEY": secrets.token_urlsafe(32),
        "HOOKLOUPE_TRUSTED_PROXIES": "1",
        "HOOKLOUPE_BASE_URL": f"http://127.0.0.1:{caddy_port}",
    }
    a, b = Instance("a", tmp_path, env), Instance("b", tmp_path, env)
    caddy = None
    try:
        a.start()
        a.wait_healthy()  # the first start creates the schema; B then finds it at head
        b.start().wait_healthy()
        upstreams = f"127.0.0.1:{a.port} 127.0.0.1:{b.port}"
        caddy = Caddy("Caddyfile", tmp_path, {"HOOKLOUPE_UPSTREAMS": upstreams}, port=caddy_port)
        yield Topology(a, b, caddy.start(), upstreams)
    finally:
        if caddy is not None:
            caddy.stop()
        a.terminate(), b.terminate()  # both at once, then wait for both
        a.wait(), b.wait()


def test_every_acknowledged_capture_through_the_proxy_is_stored_once(topology):
    bin_id = topology.create_bin("deploy-store")
    with Load(topology.url, bin_id, clients=4, max_s=20) as load:
        load.wait_for_acknowledged(200, timeout=20)
    assert_every_acknowledged_capture_stored_once([load], topology.url, bin_id)
    assert set(load.statuses()) == {200}, load.summary()
    # Caddy replaces a client's X-Forwarded-For; with TRUSTED_PROXIES=1 the sender is Caddy's peer.
    answer = httpx.post(f"{topology.url}/h/{bin_id}/who", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10)
    stored = httpx.get(f"{topology.url}/api/bins/{bin_id}/requests/{answer.json()['request_id']}", timeout=10).json()
    assert stored["remote_addr"] == "127.0.0.1"
    assert httpx.get(f"{topology.url}/api/bins/{bin_id}", timeout=10).json()["capture_url"].startswith(topology.url)


class StreamReader:
    """Follows a bin's event stream in a thread, noting when each capture id arrives."""

    def __init__(self, url: str):
        self.url = url
        self.seen: dict[int, float] = {}
        self.connected = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> StreamReader:
        self._thread.start()
        assert self.connected.wait(10), f"no stream from {self.url}"
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._socket is not None:
            self._socket.shutdown(socket.SHUT_RDWR)  # ends the thread's blocked read at once
        self._thread.join(timeout=5)

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, timeout=httpx.Timeout(30, connect=5)) as response:
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                for line in response.iter_lines():
                    self.connected.set()  # the stream opens with `retry:`
                    if line.startswith("id: "):
                        self.seen[int(line[4:])] = time.monotonic()
        except Exception:  # closed by __exit__, or the stream broke: the test sees what arrived
            pass


def test_a_stream_shows_captures_that_arrived_at_the_other_instance_within_a_second(topology):
    bin_id = topology.create_bin("deploy-stream")
    events = f"/api/bins/{bin_id}/events"
    with StreamReader(topology.url + events) as proxied, StreamReader(topology.a.url + events) as on_a:
        acknowledged = {}
        for n in range(8):
            answer = httpx.post(f"{topology.b.url}/h/{bin_id}/n{n}", content=b"at B", timeout=10)
            acknowledged[answer.json()["request_id"]] = time.monotonic()
            time.sleep(0.2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(set(acknowledged) <= set(r.seen) for r in (proxied, on_a)):
            time.sleep(0.05)
    for name, reader in (("through the proxy", proxied), ("on instance A", on_a)):
        lags = {capture_id: reader.seen.get(capture_id, float("inf")) - at for capture_id, at in acknowledged.items()}
        assert max(lags.values()) < 1.0, f"{name}: seconds from B's answer to the stream: {lags}"


def test_auto_forward_delivers_each_capture_once_with_both_instances_running(topology):
    target = RecordingTarget().start()
    try:
        bin_id = topology.create_bin("deploy-forward")
        forward = {"forward": {"url": f"{target.url}/in", "enabled": True}}
        httpx.patch(f"{topology.url}/api/bins/{bin_id}", json=forward, timeout=10).raise_for_status()
        sent = [f"/in/f{n}" for n in range(30)]
        with httpx.Client(timeout=10) as client:
            for path in sent:
                assert client.post(f"{topology.url}/h/{bin_id}/{path[4:]}", content=path.encode()).status_code == 200
        target.wait_for(len(sent), timeout=30)
        time.sleep(1.5)  # a second delivery of any of them would arrive by now
        received = Counter(request.path for request in target.received)
        assert received == Counter(sent)
        assert all(request.body == request.path.encode() for request in target.received)
        assert {request.header("X-Hookloupe-Hop") for request in target.received} == {"1"}
    finally:
        target.stop()


def test_kill_9_of_one_instance_under_load_loses_no_acknowledged_capture(topology):
    bin_id = topology.create_bin("deploy-kill")
    try:
        with Load(topology.url, bin_id, clients=4, max_s=40) as load:
            load.wait_for_acknowledged(100, timeout=20)
            killed_at = time.monotonic()
            topology.a.kill()
            load.wait_for_acknowledged(200, timeout=20)
        after_kill = [o for o in load.outcomes if o.started > killed_at]
        assert sum(o.acknowledged for o in after_kill) >= 100, load.summary()  # B took over
        assert_every_acknowledged_capture_stored_once([load], topology.b.url, bin_id)
        unclear = Counter(o.status for o in load.outcomes if o.status is not None and not o.acknowledged)
        # 502: cut off inside A; 503 + Retry-After: B could not reach PostgreSQL for a moment
        # (A's dying connections still count against max_connections) and stored nothing. A
        # sender retries both; what matters is that no 2xx was lost and nothing answered 500.
        assert set(unclear) <= {502, 503}, load.summary()
    finally:
        topology.a.start().wait_healthy()  # the other tests may run after this one


def test_capture_only_caddyfile_exposes_only_capture_and_health(topology, tmp_path):
    private_port = free_port()
    private = f"http://127.0.0.1:{private_port}"
    caddy = Caddy(
        "Caddyfile.capture-only",
        tmp_path,
        {"HOOKLOUPE_UPSTREAMS": topology.upstreams, "HOOKLOUPE_PRIVATE_SITE": private},
    ).start()
    try:
        bin_id = httpx.post(f"{private}/api/bins", json={"name": "deploy-public"}, timeout=10).json()["id"]
        public = caddy.url
        assert httpx.post(f"{public}/h/{bin_id}/x?y=1", content=b"hi", timeout=10).status_code == 200
        assert httpx.get(f"{public}/healthz", timeout=10).status_code == 200
        for path in ("/", f"/bins/{bin_id}", f"/api/bins/{bin_id}", f"/api/bins/{bin_id}/events", "/metrics", "/h"):
            assert httpx.get(public + path, timeout=10).status_code == 404, path
        assert httpx.get(f"{private}/api/bins/{bin_id}/requests", timeout=10).json()["requests"][0]["path"] == "/x"
    finally:
        caddy.stop()
