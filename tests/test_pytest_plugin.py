"""The pytest plugin, run the way a user runs it: test files written in a project folder and
pytest in a subprocess, against the in-process server it starts or a server given by URL."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import httpx
import pytest
from conftest import ROOT

from inspector.pytest_plugin import InProcessServer

# The plugin as installed (entry point `hookloupe`) or not: load it by module name either way.
# The installed distribution's `pytest11` entry point loads the plugin: nothing to pass.
LOAD_PLUGIN: tuple[str, ...] = ()

# README, "pytest": my app sends a signed webhook when an order is paid.
ORDER_PAID = """
from datetime import UTC, datetime

import httpx

from inspector.signing.samples import build_sample

SECRET = "whsec_order_secret"


def pay_order(order_id, webhook_url):
    # Stands in for the app under test: it tells the shop, with a Stripe-signed webhook.
    sample = build_sample("stripe", secret=SECRET, event="invoice.paid", at=datetime.now(UTC))
    httpx.post(webhook_url, headers=sample.headers, content=sample.body)


def test_paying_an_order_sends_a_signed_webhook(hookloupe_bin):
    hookloupe_bin.add_secret("stripe", SECRET, provider="stripe")
    pay_order(42, hookloupe_bin.url)
    capture = hookloupe_bin.wait_for(timeout=3, provider="stripe", verdict="valid", event="invoice.paid")
    assert capture.json()["type"] == "invoice.paid"
"""

# The same webhook, but the test expects another provider: the wait times out.
WRONG_PROVIDER = """
from datetime import UTC, datetime

import httpx

from inspector.signing.samples import build_sample


def test_expects_a_github_webhook(hookloupe_bin):
    sample = build_sample("stripe", secret="whsec_x", at=datetime.now(UTC))
    httpx.post(hookloupe_bin.url + "/orders", headers=sample.headers, content=sample.body)
    hookloupe_bin.wait_for(timeout=1, provider="github")
"""

# Records, once the session's fixtures are gone, which threads remain, which of our modules
# were imported, and whether anything was written into the working directory.
SESSION_REPORT = """
import sys
import threading
from pathlib import Path


def pytest_sessionfinish(session):
    threads = sorted(thread.name for thread in threading.enumerate())
    loaded = sorted(name for name in ("inspector.client", "httpx", "inspector.analyser", "flask", "sqlalchemy") if name in sys.modules)
    Path("report.txt").write_text(" ".join(threads) + "\\n" + " ".join(loaded) + "\\n")
"""


class UserProject:
    """A user's project in a folder, tested by its own `python -m pytest` process (pytester's
    fixture is not used: it restores sys.modules after each test, which would leave this
    process with two copies of modules such as httpcore)."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path, self.env = path, env
        path.mkdir()
        (path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
        (path / "conftest.py").write_text(SESSION_REPORT)

    def makepyfile(self, **files: str) -> None:
        for name, text in files.items():
            (self.path / f"{name}.py").write_text(textwrap.dedent(text))

    def runpytest_subprocess(self, *args: str, timeout: float) -> Outcome:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Outcome(done.stdout + done.stderr)


class Outcome:
    """What a pytest run printed, and its counts."""

    def __init__(self, output: str) -> None:
        self.output = output
        summary = output.strip().splitlines()[-1] if output.strip() else ""
        self.counts = {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|error)", summary)}

    def assert_outcomes(self, **expected: int) -> None:
        assert self.counts == expected, self.output[-3000:]

    def fnmatch_lines(self, patterns: list[str]) -> None:
        lines = self.output.splitlines()
        for pattern in patterns:
            assert any(fnmatch.fnmatch(line, pattern) for line in lines), f"{pattern!r} not in:\n{self.output[-3000:]}"


@pytest.fixture
def user_project(tmp_path):
    """A user's project: warnings are errors, no server configured."""
    env = {name: value for name, value in os.environ.items() if name not in ("HOOKLOUPE_URL", "HOOKLOUPE_TOKEN")}
    return UserProject(tmp_path / "project", env)


def report(project: UserProject) -> tuple[list[str], list[str]]:
    """(threads left at session end, our modules imported) from SESSION_REPORT."""
    threads, loaded = (project.path / "report.txt").read_text().splitlines()
    return threads.split(), loaded.split()


def test_the_readme_example_passes_and_a_missed_wait_fails_with_its_near_miss(user_project):
    user_project.makepyfile(test_order_paid=ORDER_PAID, test_wrong_provider=WRONG_PROVIDER)
    result = user_project.runpytest_subprocess(*LOAD_PLUGIN, timeout=60)
    result.assert_outcomes(passed=1, failed=1)
    result.fnmatch_lines(
        [
            "*WaitTimeoutError: no capture in bin * matched provider='github' within 1 s",
            "*near misses, newest first:",
            "*#* POST /orders — missed: provider: wanted 'github', got 'stripe'",
        ]
    )
    threads, _loaded = report(user_project)
    # The server stopped, and the app's threads with it.
    assert not {"hookloupe-server", "hookloupe-analyser", "hookloupe-forwarder", "hookloupe-watch"} & set(threads)
    assert not (user_project.path / "instance").exists()  # its files went to a temporary folder


def test_the_server_and_token_given_are_used_and_each_bin_deleted(user_project, tmp_path):
    user_project.env["HOOKLOUPE_TOKEN"] = "tok-from-the-environment"
    user_project.makepyfile(
        test_given="""
        from pathlib import Path

        def test_uses_the_given_server(hookloupe, hookloupe_bin, pytestconfig):
            assert hookloupe.url == pytestconfig.getoption("hookloupe_url")
            assert hookloupe._http.headers["Authorization"] == "Bearer tok-from-the-environment"
            assert hookloupe_bin.url.startswith(hookloupe.url + "/h/")
            Path("bin.txt").write_text(hookloupe_bin.id)
        """
    )
    server = InProcessServer(tmp_path)
    url = server.start()
    try:
        result = user_project.runpytest_subprocess(*LOAD_PLUGIN, f"--hookloupe-url={url}", timeout=60)
        result.assert_outcomes(passed=1)
        bin_id = (user_project.path / "bin.txt").read_text()
        assert httpx.get(f"{url}/api/bins/{bin_id}").status_code == 404
    finally:
        server.stop()
    threads, _loaded = report(user_project)
    assert "hookloupe-server" not in threads  # none started in the subprocess


def test_a_run_that_uses_no_fixture_starts_and_imports_nothing(user_project):
    user_project.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = user_project.runpytest_subprocess(*LOAD_PLUGIN, timeout=60)
    result.assert_outcomes(passed=1)
    threads, loaded = report(user_project)
    assert threads == ["MainThread"] and loaded == []


def test_the_plugin_is_declared_as_a_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"hookloupe": "inspector.pytest_plugin"}


def test_importing_the_plugin_imports_no_client_and_starts_no_thread():
    code = (
        "import sys, threading, inspector.pytest_plugin; "
        "print(threading.active_count(), 'inspector.client' in sys.modules, 'httpx' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.split() == ["1", "False", "False"]
