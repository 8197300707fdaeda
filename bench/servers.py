"""Start and stop the servers under test (Hookloupe, the no-op baselines, the naive reference) on loopback."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


class ServerError(Exception):
    """A server exited or did not answer its health check in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET http://127.0.0.1:<port><path>; returns (status, body). Raises OSError when unreachable."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post(port: int, path: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """POST a JSON body; returns (status, body). Raises OSError when unreachable."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Server:
    """A server subprocess on a free loopback port; `url` is its base URL. Its output goes to
    `log_path`. Use as a context manager, or call `start()` / `stop()`."""

    def __init__(self, name: str, argv: list[str], *, health_path: str, log_dir: Path, env: dict | None = None):
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.argv = [arg.replace("{port}", str(self.port)) for arg in argv]
        self.health_path = health_path
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> Server:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if get(self.port, self.health_path, timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"{self.name} did not answer {self.health_path} in {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def hookloupe_server(log_dir: Path, instance: Path, *, workers: int, connections: int, env: dict) -> Server:
    """`hookloupe serve` exactly as deployed (SQLite in `instance` unless env sets a database)."""
    argv = [
        sys.executable,
        "-m",
        "inspector.cli",
        "serve",
        "--host",
        HOST,
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--connections",
        str(connections),
    ]
    return Server(
        "hookloupe",
        argv,
        health_path="/healthz",
        log_dir=log_dir,
        env={"HOOKLOUPE_INSTANCE_PATH": str(instance), **env},
    )


def _serve_noop(name: str, log_dir: Path, *options: str) -> Server:
    """bench/serve_noop.py (the no-op app, or the naive one) with gunicorn `options`."""
    argv = [sys.executable, str(ROOT / "bench" / "serve_noop.py"), "--host", HOST, "--port", "{port}", *options]
    return Server(name, argv, health_path="/healthz", log_dir=log_dir)


def noop_server(log_dir: Path, *, workers: int, connections: int) -> Server:
    """bench/noop_app.py under the same gunicorn settings (bench/serve_noop.py)."""
    return _serve_noop("noop", log_dir, "--workers", str(workers), "--connections", str(connections))


def bare_server(log_dir: Path, *, workers: int, connections: int) -> Server:
    """bench/bare_app.py (plain WSGI, no Flask) under the same gunicorn settings: the ceiling."""
    return _serve_noop("bare", log_dir, "--bare", "--workers", str(workers), "--connections", str(connections))


def sync_workers() -> int:
    """2 x cores + 1: gunicorn's documented starting point for sync workers."""
    return 2 * (os.cpu_count() or 1) + 1


def noop_sync_server(log_dir: Path, *, workers: int) -> Server:
    """bench/noop_app.py under gunicorn's sync worker class (one request at a time per
    process, no keep-alive): the simplest fast Flask deployment."""
    return _serve_noop("noop-sync", log_dir, "--workers", str(workers), "--worker-class", "sync")


def naive_server(log_dir: Path, *, workers: int, connections: int) -> Server:
    """bench/naive_app.py (Flask + one SQLite row per request) under the same settings."""
    options = ("--workers", str(workers), "--connections", str(connections), "--naive-db", str(log_dir / "naive.db"))
    return _serve_noop("naive", log_dir, *options)
