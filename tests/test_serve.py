"""`hookloupe serve`: the lines it prints, where its data lives (inspector/paths.py), instances
side by side, and a prompt stop that keeps captures in progress — real gunicorn subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import PG_URL, LiveServer, _reset_postgres, free_port

from inspector.paths import choose_instance_path
from inspector.serve import running_line, shown_database

STOP_BOUND_S = 3.0  # issue 13, point 8: a stop with open pages takes at most 3 s


# --- where the data lives ---------------------------------------------------------------------


def test_instance_path_setting_wins(tmp_path):
    chosen = choose_instance_path({"HOOKLOUPE_INSTANCE_PATH": "data"}, cwd=str(tmp_path))
    assert (chosen.path, chosen.reason) == (str(tmp_path / "data"), "HOOKLOUPE_INSTANCE_PATH")


def test_default_is_instance_of_the_working_directory_and_says_so(tmp_path):
    chosen = choose_instance_path({"HOOKLOUPE_INSTANCE_PATH": "  "}, cwd=str(tmp_path))
    assert chosen.path == str(tmp_path / "instance")
    assert "./instance" in chosen.reason and "HOOKLOUPE_INSTANCE_PATH" in chosen.reason


# --- what serve prints --------------------------------------------------------------------------


def test_running_line_shows_the_url_to_open():
    assert running_line("127.0.0.1", 8000, None) == "Hookloupe is running: open http://127.0.0.1:8000"
    assert running_line("::1", 8000, None) == "Hookloupe is running: open http://[::1]:8000"
    assert running_line("0.0.0.0", 80, None) == (
        "Hookloupe is running: open http://127.0.0.1:80 (listening on all interfaces, port 80)"
    )
    assert running_line("0.0.0.0", 80, "https://hooks.example.com") == (
        "Hookloupe is running: open https://hooks.example.com (listening on http://0.0.0.0:80)"
    )


def test_shown_database_never_shows_a_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown_database(None, "/data") == "/data/hookloupe.db"
    assert shown_database("sqlite:///rel.db", "/data") == str(tmp_path / "rel.db")
    assert shown_database("postgresql://u:s3cret@db:5432/hooks", "/data") == "postgresql://u:***@db:5432/hooks"
    shown = shown_database("postgresql://db/hooks?user=u&password=s3cret", "/data")
    assert "s3cret" not in shown and "password=" in shown
    assert "s3cret" not in shown_database("not a url s3cret", "/data")


class Serve:
    """`hookloupe serve` as a user starts it: from `cwd`, with a home of its own in `tmp_path`
    and no HOOKLOUPE_* setting but those given. Its output (stdout and stderr) goes to `log`."""

    def __init__(self, tmp_path: Path, cwd: Path, env: dict[str, str] | None = None, name: str = "serve"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cwd = cwd
        self.home, self.runtime = tmp_path / "home", tmp_path / "run"
        self.home.mkdir(exist_ok=True)
        self.runtime.mkdir(exist_ok=True)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKLOUPE_", "XDG_"))}
        self.env = {**clean, "HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.runtime), **(env or {})}
        self.log = tmp_path / f"{name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inspector.cli", "serve", "--port", str(self.port), "--workers", "2"],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as in a terminal of its own
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server did not start: {self.output()}")

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, group: bool = False) -> float:
        """Seconds from the signal (to the master, or to the whole group as Ctrl-C does) to its exit."""
        assert self.process is not None
        started = time.monotonic()
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        finally:
            self.kill()
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def create_bin(self) -> str:
        response = httpx.post(self.url + "/api/bins", json={}, timeout=10)
        response.raise_for_status()
        return response.json()["id"]


@pytest.mark.server
def test_serve_prints_the_url_and_where_its_data_lives(tmp_path):
    server = Serve(tmp_path, cwd=tmp_path).start()
    try:
        data_dir = tmp_path / "instance"
        lines = server.output().splitlines()
        running = f"Hookloupe is running: open {server.url}"
        data = f"data: {data_dir / 'hookloupe.db'}, instance: {data_dir} ("
        assert running in lines
        assert any(line.startswith(data) for line in lines), lines
        # Once listening, before the workers' own lines.
        booting = next(n for n, line in enumerate(lines) if "Booting worker" in line)
        assert lines.index(running) < booting
        assert httpx.get(server.url, timeout=10).status_code == 200
        assert (data_dir / "hookloupe.db").exists()
    finally:
        assert server.stop() < STOP_BOUND_S
    assert server.process is not None and server.process.returncode == 0


@pytest.mark.server
@pytest.mark.postgres
def test_serve_shows_the_database_url_without_its_password_and_the_base_url(tmp_path):
    if not PG_URL:
        pytest.skip("needs HOOKLOUPE_TEST_DATABASE_URL (.ci/run sets it)")
    _reset_postgres(PG_URL)
    scheme, rest = PG_URL.split("://", 1)
    user, _, host = rest.rpartition("@")
    with_password = f"{scheme}://{user or 'postgres'}:pw-never-shown@{host}"  # trust auth ignores it
    env = {
        "HOOKLOUPE_DATABASE_URL": with_password,
        "HOOKLOUPE_BASE_URL": "https://hooks.example.com/",
        "HOOKLOUPE_INSTANCE_PATH": "state",  # relative: taken from the working directory
    }
    server = Serve(tmp_path, cwd=tmp_path, env=env).start()
    try:
        output = server.output()
        assert f"Hookloupe is running: open https://hooks.example.com (listening on {server.url})" in output
        shown = with_password.replace("pw-never-shown", "***")
        assert f"data: {shown}, instance: {tmp_path / 'state'} (HOOKLOUPE_INSTANCE_PATH)" in output
        assert "pw-never-shown" not in output
    finally:
        server.stop()


@pytest.mark.server
def test_two_instances_from_one_directory_run_and_stop_cleanly(tmp_path):
    first = Serve(tmp_path, cwd=tmp_path, name="first").start()
    second = Serve(tmp_path, cwd=tmp_path, name="second").start()
    try:
        bin_id = first.create_bin()
        assert httpx.post(f"{second.url}/h/{bin_id}", content=b"one", timeout=10).status_code == 200
        # The same data from the same user, whichever directory: the other sees the capture.
        assert httpx.get(f"{first.url}/api/bins/{bin_id}", timeout=10).json()["request_count"] == 1
        # No control socket: gunicorn's default path (per user) would be shared by both.
        assert not list(first.runtime.rglob("*.ctl")) and not list(first.home.rglob("*.ctl"))
    finally:
        first_stop, second_stop = first.stop(), second.stop()
    for server in (first, second):
        assert server.process is not None and server.process.returncode == 0, server.output()
        assert "Traceback" not in server.output() and "control socket" not in server.output().lower()
    assert first_stop < STOP_BOUND_S and second_stop < STOP_BOUND_S


class Page:
    """An event stream being served (its first bytes read), as an open page holds one."""

    def __init__(self, url: str):
        self.client = httpx.Client(timeout=30)
        self.response = self.client.send(self.client.build_request("GET", url), stream=True)
        assert self.response.status_code == 200
        self.text = self.response.iter_text()
        assert next(self.text).startswith("retry:")

    def read_to_end(self) -> None:
        """The rest of the stream: it returns when the server ends it properly (raises if cut)."""
        for _ in self.text:
            pass

    def close(self) -> None:
        self.response.close()
        self.client.close()


@pytest.mark.server
def test_stop_with_open_pages_is_prompt(tmp_path):
    server = LiveServer(tmp_path).start()
    try:
        bin_id = server.create_bin()
        pages = [
            Page(f"{server.url}/bins/{bin_id}/stream"),
            Page(f"{server.url}/bins/{bin_id}/stream"),
            Page(f"{server.url}/api/bins/{bin_id}/events"),
        ]
        idle = httpx.Client(timeout=30)  # a kept-alive connection, idle, as a browser keeps some
        assert idle.get(f"{server.url}/bins/{bin_id}").status_code == 200
        assert server.process is not None
        started = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=30)
        took = time.monotonic() - started
        # Each stream was ended properly (the page reconnects elsewhere), not cut.
        for page in pages:
            page.read_to_end()
            page.close()
        idle.close()
    finally:
        server.stop()
    print(f"stop with 3 open event streams and an idle connection: {took:.2f} s")
    assert took < STOP_BOUND_S
    assert server.process.returncode == 0
    assert "Traceback" not in server.log_path.read_text()


@pytest.mark.server
def test_ctrl_c_finishes_a_capture_in_progress_then_stops(tmp_path):
    env = {"HOOKLOUPE_INSTANCE_PATH": str(tmp_path / "instance")}
    server = Serve(tmp_path, cwd=tmp_path, env=env).start()
    bin_id = server.create_bin()
    page = Page(f"{server.url}/bins/{bin_id}/stream")
    body = b"first half|second half"
    head = f"POST /h/{bin_id}/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    took: list[float] = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body[:11])
        time.sleep(0.3)  # the worker has the head and waits for the rest of the body
        # Ctrl-C in a terminal: SIGINT to the master and to every worker.
        stopping = threading.Thread(target=lambda: took.append(server.stop(signal.SIGINT, group=True)))
        stopping.start()
        time.sleep(1.0)
        with pytest.raises(OSError):  # meanwhile it takes no new connection
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        sock.sendall(body[11:])
        with sock.makefile("rb") as answer:
            response = answer.read()  # the worker closes the connection after it
    stopping.join(timeout=30)
    page.close()
    assert response.startswith(b"HTTP/1.1 200"), response
    assert took[0] < 1.0 + STOP_BOUND_S  # it waited for the capture, and for nothing else
    assert server.process is not None and server.process.returncode == 0, server.output()
    restarted = Serve(tmp_path, cwd=tmp_path, env=env).start()
    try:
        listed = httpx.get(f"{restarted.url}/api/bins/{bin_id}/requests", timeout=10).json()["requests"]
        assert [(row["path"], row["body_size"]) for row in listed] == [("/slow", len(body))]
    finally:
        restarted.stop()
