"""`hookloupe wait`, `bins create`, `requests` and `mcp` against the real app (served in-process,
and gunicorn with a password): exit codes, output, and no password or token in any of it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import httpx
import pytest
from conftest import ROOT, LiveServer, free_port

from inspector.cli import build_parser, main
from inspector.pytest_plugin import InProcessServer

PASSWORD = "pw-Cl1-never-printed"
TOKEN = "tok-Cl2-never-printed"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    server = InProcessServer(tmp_path_factory.mktemp("cli-remote"))
    yield server.start()
    server.stop()


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    monkeypatch.delenv("HOOKLOUPE_URL", raising=False)
    monkeypatch.delenv("HOOKLOUPE_TOKEN", raising=False)


@pytest.fixture
def bin_id(server_url):
    bin_id = httpx.post(f"{server_url}/api/bins", json={"expires_in_s": 600}).json()["id"]
    yield bin_id
    httpx.delete(f"{server_url}/api/bins/{bin_id}")


def capture(url: str, bin_id: str, path: str = "", **kwargs) -> int:
    response = httpx.post(f"{url}/h/{bin_id}{path}", **kwargs)
    assert response.status_code == 200
    return response.json()["request_id"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- wait -----------------------------------------------------------------------------------------------------


def test_wait_prints_the_match_and_exits_0(capsys, server_url, bin_id):
    capture(server_url, bin_id, "/other", content=b"x")
    wanted = capture(server_url, bin_id, "/orders?n=1", json={"paid": True})
    code, out, err = run(
        capsys, "wait", f"{server_url}/bins/{bin_id}", "--after", "0", "--match", "json.paid=true", "--timeout", "2"
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"#{wanted}  ") and "POST /orders?n=1" in out and out.count("\n") == 1


def test_wait_json_prints_the_whole_capture(capsys, server_url, bin_id):
    wanted = capture(server_url, bin_id, "/j", content=b"body")
    code, out, _ = run(capsys, "wait", f"{server_url}/h/{bin_id}/j", "--after", "0", "--json", "--timeout", "2")
    assert code == 0
    printed = json.loads(out)
    assert printed["id"] == wanted and printed["body_base64"] == "Ym9keQ=="


def test_wait_without_after_ignores_stored_captures_and_times_out_with_1(capsys, server_url, bin_id):
    capture(server_url, bin_id, content=b"stored before the wait")
    code, out, err = run(capsys, "wait", f"{server_url}/bins/{bin_id}", "--timeout", "0")
    assert (code, out) == (1, "")
    assert "no capture arrived" in err


def test_wait_timeout_lists_near_misses_on_stderr(capsys, server_url, bin_id):
    timer = threading.Timer(0.3, lambda: capture(server_url, bin_id, "/late", content=b"x"))
    timer.start()
    code, out, err = run(capsys, "wait", f"{server_url}/bins/{bin_id}", "--match", "method=PUT", "--timeout", "1")
    timer.join()
    assert (code, out) == (1, "")
    assert "method='PUT'" in err and "POST /late — missed: method: wanted 'PUT', got 'POST'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["http://127.0.0.1:1/nothing/here"], "neither a bin page"),
        (["{server}/bins/{bin}", "--match", "method"], "--match takes name=value"),
        (["{server}/bins/{bin}", "--match", "provder=stripe"], "unknown matcher 'provder'"),
        (["{server}/bins/no-such-bin-x"], "404 no bin named"),
        (["http://127.0.0.1:{closed}/bins/abc"], "cannot reach"),
    ],
)
def test_wait_usage_and_connection_errors_exit_2(capsys, server_url, bin_id, argv, message):
    filled = [arg.format(server=server_url, bin=bin_id, closed=free_port()) for arg in argv]
    code, out, err = run(capsys, "wait", *filled, "--timeout", "1")
    assert (code, out) == (2, "")
    assert err.startswith("hookloupe wait: ") and message in err


def test_wait_exit_code_of_the_installed_command(server_url, bin_id):
    done = subprocess.run(
        [sys.executable, "-m", "inspector.cli", "wait", f"{server_url}/bins/{bin_id}", "--timeout", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and "no capture" in done.stderr


# --- bins create ----------------------------------------------------------------------------------------


def test_bins_create_prints_the_capture_url(capsys, server_url):
    code, out, _ = run(capsys, "bins", "create", "--url", server_url, "--name", "cli-made-bin")
    assert (code, out) == (0, f"{server_url}/h/cli-made-bin\n")
    assert httpx.get(f"{server_url}/api/bins/cli-made-bin").status_code == 200


def test_bins_create_json_with_expiry_uses_hookloupe_url(capsys, monkeypatch, server_url):
    monkeypatch.setenv("HOOKLOUPE_URL", server_url)
    code, out, _ = run(capsys, "bins", "create", "--expires-in", "60", "--json")
    assert code == 0
    made = json.loads(out)
    assert made["capture_url"].startswith(server_url) and made["expires_at"].endswith("Z")


def test_bins_create_errors_exit_2(capsys, server_url):
    code, _, err = run(capsys, "bins", "create", "--url", server_url, "--name", "Not A Name")
    assert code == 2 and "400" in err
    code, _, err = run(capsys, "bins", "create", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "cannot reach" in err


# --- requests ---------------------------------------------------------------------------------------------


def test_requests_lists_one_line_per_capture_newest_first(capsys, server_url, bin_id):
    first = capture(server_url, bin_id, "/a", content=b"x")
    second = capture(server_url, bin_id, "/b?k=v", content=b"y")
    code, out, _ = run(capsys, "requests", f"{server_url}/bins/{bin_id}")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith(f"#{second}  ") and "POST /b?k=v" in lines[0]
    assert lines[1].startswith(f"#{first}  ") and "POST /a" in lines[1]
    code, out, _ = run(capsys, "requests", f"{server_url}/h/{bin_id}", "--match", "path=/a", "--json")
    assert code == 0 and [item["id"] for item in json.loads(out)] == [first]
    code, out, _ = run(capsys, "requests", f"{server_url}/bins/{bin_id}", "--limit", "1")
    assert len(out.splitlines()) == 1 and out.startswith(f"#{second}  ")


def test_requests_of_a_missing_bin_exits_2(capsys, server_url):
    code, out, err = run(capsys, "requests", f"{server_url}/bins/no-such-bin-y")
    assert (code, out) == (2, "") and "no bin named" in err


# --- mcp -----------------------------------------------------------------------------------------------------


def test_mcp_without_the_sdk_says_which_extra_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mcp", None)  # find_spec answers None: not installed
    code, out, err = run(capsys, "mcp", "--url", "http://127.0.0.1:8000")
    assert (code, out) == (2, "")
    assert err.strip() == "hookloupe mcp needs the [mcp] extra: pip install 'hookloupe[mcp]'"


def test_mcp_is_registered_with_url_and_token():
    args = build_parser().parse_args(["mcp", "--url", "http://h:1", "--token", "t"])
    assert (args.url, args.token, args.func.__name__) == ("http://h:1", "t", "mcp")


# --- no password or token in any output -------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("cli-guarded"), env={"HOOKLOUPE_PASSWORD": PASSWORD}, workers=1).start()
    yield server
    server.stop()


@pytest.mark.server
def test_a_password_in_the_url_is_used_and_never_printed(capsys, monkeypatch, guarded):
    monkeypatch.setenv("HOOKLOUPE_TOKEN", TOKEN)
    base = guarded.url.replace("http://", f"http://me:{PASSWORD}@")
    printed = []
    code, out, err = run(capsys, "bins", "create", "--url", base, "--name", "guarded-cli")
    printed += [out, err]
    assert code == 0 and out == f"{guarded.url}/h/guarded-cli\n"
    capture(guarded.url, "guarded-cli", "/p", content=b"x")
    for argv in (
        ["wait", f"{base}/bins/guarded-cli", "--after", "0", "--timeout", "1"],
        ["wait", f"{base}/bins/guarded-cli", "--after", "0", "--json", "--timeout", "1"],
        ["wait", f"{base}/bins/guarded-cli", "--match", "method=PUT", "--timeout", "0"],
        ["requests", f"{base}/bins/guarded-cli", "--json"],
        ["requests", f"{base}/bins/guarded-cli"],
        ["requests", f"{base}/bins/missing-bin"],
        ["wait", f"{base}/nowhere", "--timeout", "0"],
    ):
        code, out, err = run(capsys, *argv)
        printed += [out, err]
        assert code in (0, 1, 2)
    assert "POST /p" in "".join(printed)  # the calls did get through with the password
    for text in printed:
        assert PASSWORD not in text and TOKEN not in text and "me:" not in text


@pytest.mark.server
def test_a_wrong_password_exits_2_without_printing_it(capsys, guarded):
    wrong = "wrong-Zz7-secret"
    code, out, err = run(capsys, "requests", guarded.url.replace("http://", f"http://me:{wrong}@") + "/bins/x")
    assert (code, out) == (2, "") and "401" in err and wrong not in err
