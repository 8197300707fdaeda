"""Shared fixtures: the app on SQLite (and PostgreSQL when HOOKLOUPE_TEST_DATABASE_URL is
set), its test client, and a real `hookloupe serve` (gunicorn) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from inspector import create_app
from inspector.db import db

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("HOOKLOUPE_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _reset_postgres(url: str) -> None:
    """Drop every table so each test starts from an empty schema."""
    from inspector import database_url

    engine = create_engine(database_url(url, ""))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def database_for(backend: str, tmp_path: Path) -> str:
    """A fresh, empty database URL for `backend`; skips when PostgreSQL is not configured."""
    if backend == "postgresql":
        if not PG_URL:
            pytest.skip("PostgreSQL tests need HOOKLOUPE_TEST_DATABASE_URL (.ci/run sets it)")
        _reset_postgres(PG_URL)
        return PG_URL
    return "sqlite:///" + str(tmp_path / "hookloupe.db")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def app(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    # Inline analysis: each capture is analysed before the test client gets its answer, so
    # tests read final verdicts without waiting. The background analyser has its own tests.
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_for(backend, tmp_path),
            "SECRET_KEY": "test-secret-key",
            "ANALYSER": "inline",
            # Page tests post without a CSRF token; CSRF itself is tested on (test_auth.py and
            # every browser test, whose gunicorn server runs the real settings).
            "WTF_CSRF_ENABLED": False,
        }
    )
    yield app
    app.extensions["hookloupe.capture_marks"].stop()  # its reader thread reads no more
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def bin_id(client):
    response = client.post("/api/bins", json={"name": "test-bin"})
    assert response.status_code == 201
    return response.json["id"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`hookloupe serve` in a subprocess; `url` is its base URL."""

    def __init__(self, tmp_path: Path, env: dict | None = None, workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp_path = tmp_path
        self.env = {**os.environ, "HOOKLOUPE_INSTANCE_PATH": str(tmp_path / "instance"), **(env or {})}
        self.workers = workers
        self.log_path = tmp_path / f"server-{self.port}.log"
        self.process = None
        self._log = None

    def start(self) -> LiveServer:
        self._log = log = open(self.log_path, "ab")  # noqa: SIM115 - the server writes it until stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "inspector.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def create_bin(self, name: str | None = None) -> str:
        response = httpx.post(self.url + "/api/bins", json={"name": name} if name else {}, timeout=10)
        response.raise_for_status()
        return response.json()["id"]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A real gunicorn server on SQLite (2 workers), shared by the tests of one module."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()


def read_stream(response, until: str, max_chunks: int = 50) -> str:
    """A test client's streamed text until `until` appears (or `max_chunks`), then close it
    (freeing the stream slot)."""
    text = ""
    try:
        for chunk in response.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            max_chunks -= 1
            if until in text or max_chunks == 0:
                break
    finally:
        response.close()
    return text


@pytest.fixture
def fast_stream(app):
    """Event streams that poll every 10 ms and end after 2 s."""
    app.config.update(STREAM_POLL_S=0.01, STREAM_MAX_S=2)


# --- the browser tests: Debian's chromium driven by Playwright (no browser download) ---------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXPECT_TIMEOUT_MS = 15_000
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian's chromium at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    # CI has two loaded cores: give every expect() 15 s instead of 5 s. A condition that never
    # holds still fails; one that holds late on a slow day no longer does.
    sync_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
