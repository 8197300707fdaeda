"""`hookloupe export <bin URL>` / `hookloupe import <bin URL> FILE` (inspector/remote_export.py) against
a real server, beside the whole-database `export --all` / `import FILE` they share a name with."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, LiveServer, free_port

from inspector.cli import build_parser

pytestmark = pytest.mark.server

PASSWORD = "pw-Exp0rt-never-shown"
TOKEN = "hlt_not-a-real-token-never-shown"
BINARY = bytes(range(256)) + b"\x00\xff"
COMPARED = ("received_at", "method", "path", "query_string", "headers", "body_base64", "content_type", "remote_addr")


def hookloupe(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("HOOKLOUPE_TOKEN", "HOOKLOUPE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "inspector.cli", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, timeout=60
    )


def stored(base: str, bin_id: str, auth: httpx.Auth | None = None) -> list[tuple]:
    with httpx.Client(base_url=base, auth=auth, timeout=10) as http:
        listed = http.get(f"/api/bins/{bin_id}/requests?limit=500").json()["requests"]
        full = [http.get(f"/api/bins/{bin_id}/requests/{item['id']}").json() for item in listed]
    return [tuple(json.dumps(request[name]) for name in COMPARED) for request in full]


def fill(base: str, bin_id: str) -> None:
    """Captures through gunicorn: a binary body, a gzip body, a custom method, a sub-path with
    percent-encoding, repeated query pairs."""
    capture = f"{base}/h/{bin_id}"
    httpx.request("PURGE", f"{capture}/a%20b/%2Fc?x=1&x=2&x=", content=BINARY, headers={"X-A": "1"})
    zipped = gzip.compress(b'{"zipped": true}')
    httpx.post(
        f"{capture}/gz", content=zipped, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    httpx.post(f"{capture}/plain?q=%C3%A9", content="héllo\n".encode(), headers={"Content-Type": "text/plain"})


@pytest.mark.parametrize("fmt", ["har", "ndjson"])
def test_export_then_import_a_bin_through_the_api(live_server, tmp_path, fmt):
    source, copy = live_server.create_bin(), live_server.create_bin()
    fill(live_server.url, source)
    output = tmp_path / f"bin.{fmt}"
    exported = hookloupe("export", f"{live_server.url}/bins/{source}", "--format", fmt, "--output", str(output))
    assert exported.returncode == 0, exported.stderr
    assert f"to {output}" in exported.stderr.decode() and not (tmp_path / f"bin.{fmt}.partial").exists()
    imported = hookloupe("import", f"{live_server.url}/h/{copy}", str(output))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.decode().strip() == f"imported 3 captures into bin {copy}"
    assert stored(live_server.url, copy) == stored(live_server.url, source)


def test_export_to_stdout_with_matchers_and_import_from_stdin(live_server):
    source, copy = live_server.create_bin(), live_server.create_bin()
    fill(live_server.url, source)
    exported = hookloupe("export", f"{live_server.url}/bins/{source}", "--match", "method=PURGE")
    assert exported.returncode == 0, exported.stderr
    (line,) = exported.stdout.splitlines()
    assert json.loads(line)["method"] == "PURGE"
    imported = hookloupe("import", f"{live_server.url}/bins/{copy}", "-", stdin=exported.stdout)
    assert imported.returncode == 0 and "imported 1 captures" in imported.stdout.decode()
    assert stored(live_server.url, copy) == stored(live_server.url, source)[-1:]


def test_a_refused_file_exits_1_and_imports_nothing(live_server, tmp_path):
    bin_id = live_server.create_bin()
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"method": "GET", "received_at": "2025-01-01T00:00:00Z"}\n{"method": "GET X"}\n')
    refused = hookloupe("import", f"{live_server.url}/bins/{bin_id}", str(bad))
    assert refused.returncode == 1 and "line 2" in refused.stderr.decode()
    assert stored(live_server.url, bin_id) == []


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("locked"), env={"HOOKLOUPE_PASSWORD": PASSWORD}).start()
    yield server
    server.stop()


def test_a_password_in_the_url_or_a_token_is_never_printed(locked_server, tmp_path):
    auth = httpx.BasicAuth("me", PASSWORD)
    bin_id = httpx.post(f"{locked_server.url}/api/bins", json={}, auth=auth).json()["id"]
    httpx.post(f"{locked_server.url}/h/{bin_id}/x", content=b"hello")
    base = locked_server.url.replace("http://", f"http://me:{PASSWORD}@")
    output = tmp_path / "out.har"
    runs = [hookloupe("export", f"{base}/bins/{bin_id}", "--format", "har", "--output", str(output))]
    assert runs[0].returncode == 0, runs[0].stderr
    assert len(json.loads(output.read_text())["log"]["entries"]) == 1
    bad = tmp_path / "bad.ndjson"
    bad.write_text("nope\n")
    runs.append(hookloupe("import", f"{base}/bins/{bin_id}", str(bad)))
    assert runs[-1].returncode == 1
    runs.append(
        hookloupe("export", f"{locked_server.url.replace('http://', 'http://me:Wr0ng-pass-zz@')}/bins/{bin_id}")
    )
    assert runs[-1].returncode == 2 and "401" in runs[-1].stderr.decode()
    runs.append(hookloupe("export", f"{locked_server.url}/bins/{bin_id}", "--token", TOKEN))
    assert runs[-1].returncode == 2
    runs.append(hookloupe("import", f"{locked_server.url}/bins/{bin_id}", str(bad), "--token", TOKEN))
    assert runs[-1].returncode == 2
    for run in runs:
        printed = run.stdout + run.stderr
        assert PASSWORD.encode() not in printed and TOKEN.encode() not in printed and b"Wr0ng-pass-zz" not in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export"], "--all"),
        (["export", "http://127.0.0.1:9/bins/x", "--all"], "not both"),
        (["export", "--all", "--format", "har"], "one bin"),
        (["export", "http://127.0.0.1:9/nothing-here"], "neither a bin page"),
        (["export", "http://127.0.0.1:9/bins/x", "--match", "nope"], "name=value"),
        (["import", "http://127.0.0.1:9/bins/x"], "FILE"),
        (["import", "http://127.0.0.1:9/bins/x", "/no/such/file"], "cannot read"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = hookloupe(*args)
    assert result.returncode == 2 and message in result.stderr.decode(), result.stderr


def test_an_unreachable_server_exits_2(tmp_path):
    result = hookloupe("export", f"http://127.0.0.1:{free_port()}/bins/abc", "--output", str(tmp_path / "x"))
    assert result.returncode == 2 and "cannot reach" in result.stderr.decode()
    assert not list(tmp_path.iterdir())


def test_the_arguments_choose_backup_or_bin(monkeypatch):
    """`export --all` and `import FILE` stay the whole-database commands (tests/test_backup.py
    runs them); a bin URL selects the API."""
    from inspector import remote_export

    chosen: list[str] = []
    monkeypatch.setattr(remote_export, "export_bin", lambda args: chosen.append(f"bin {args.format}") or 0)
    monkeypatch.setattr(remote_export, "import_bin", lambda args, file: chosen.append(f"bin import {file}") or 0)
    for argv in (["export", "http://h/bins/b"], ["import", "http://h/bins/b", "f.har"]):
        args = build_parser().parse_args(argv)
        assert args.func(args) == 0
    assert chosen == ["bin ndjson", "bin import f.har"]
    backup = build_parser().parse_args(["import", "backup.ndjson"])
    assert (backup.first, backup.second) == ("backup.ndjson", None)
    everything = build_parser().parse_args(["export", "--all", "--output", "x"])
    assert everything.all and everything.output == "x" and everything.bin_url is None


def test_import_reads_a_file_given_as_path(live_server, tmp_path):
    """A relative path works from the current directory (the CLI reads the file, not the server)."""
    bin_id = live_server.create_bin()
    data = {"method": "POST", "received_at": "2025-01-01T00:00:00Z", "path": "/rel", "body_base64": "AP8="}
    (tmp_path / "one.ndjson").write_text(json.dumps(data) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HOOKLOUPE_TOKEN", "HOOKLOUPE_URL")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "inspector.cli", "import", f"{live_server.url}/bins/{bin_id}", "one.ndjson"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (row,) = stored(live_server.url, bin_id)
    assert json.loads(row[COMPARED.index("body_base64")]) == "AP8=" and Path(tmp_path / "one.ndjson").exists()
