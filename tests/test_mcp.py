"""`hookloupe mcp`: the MCP server driven by the SDK's own stdio client against a real,
password-protected Hookloupe server (gunicorn), as a coding agent would drive it."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, LiveServer, free_port
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from targets import RecordingTarget

pytestmark = pytest.mark.server

PASSWORD = "mcp-test-Pa55word-9f3c"
BASIC = base64.b64encode(f"hookloupe:{PASSWORD}".encode()).decode()
STRIPE_SECRET = "whsec_mcptestsecret0123456789"
NINE = {
    "create_bin",
    "delete_bin",
    "list_requests",
    "get_request",
    "wait_for_request",
    "add_secret",
    "explain_signature",
    "send_sample",
    "replay_request",
}


class Result:
    """One tool call's answer: `data` (the structured content), `text`, `is_error`."""

    def __init__(self, is_error: bool, text: str, data: dict[str, Any] | None):
        self.is_error, self.text, self.data = is_error, text, data

    def __getitem__(self, key: str) -> Any:
        assert not self.is_error, self.text
        assert self.data is not None
        return self.data[key]


class McpProcess:
    """The MCP server in a subprocess (`command`), talked to by the SDK's stdio client from an
    event loop in a background thread, so the tests stay plain functions. Every answer is
    kept in `outputs` (and checked for the password)."""

    def __init__(self, command: list[str], log_path: Path):
        self.command = command
        self.log_path = log_path
        self.outputs: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._session: ClientSession | None = None
        self._stop: asyncio.Event | None = None
        self._main: Any = None
        self._ready = threading.Event()

    def start(self) -> McpProcess:
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        deadline = time.monotonic() + 30
        while not self._ready.wait(0.05):
            if self._main.done():
                self._main.result()  # raises what went wrong
            assert time.monotonic() < deadline, f"MCP server did not start: {self.stderr()[-2000:]}"
        return self

    async def _run(self) -> None:
        params = StdioServerParameters(command=self.command[0], args=self.command[1:], cwd=str(ROOT))
        self._stop = asyncio.Event()
        with open(self.log_path, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                self._session = session
                self._ready.set()
                await self._stop.wait()

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._main is not None:
            self._main.result(timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _sync(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=timeout)

    def tool_names(self) -> set[str]:
        assert self._session is not None
        return {tool.name for tool in self._sync(self._session.list_tools()).tools}

    def tools(self) -> list[Any]:
        assert self._session is not None
        return list(self._sync(self._session.list_tools()).tools)

    def call(self, tool: str, /, **arguments: Any) -> Result:
        assert self._session is not None
        answer = self._sync(self._session.call_tool(tool, arguments, read_timeout_seconds=90), timeout=95)
        text = "\n".join(block.text for block in answer.content if block.type == "text")
        data = answer.structured_content
        self.outputs.append(text + json.dumps(data))
        assert PASSWORD not in text and BASIC not in text
        return Result(bool(answer.is_error), text, data)

    def stderr(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A password-protected Hookloupe server: every tool call goes through HTTP Basic."""
    live = LiveServer(tmp_path_factory.mktemp("mcp"), env={"HOOKLOUPE_PASSWORD": PASSWORD}).start()
    yield live
    live.stop()


def authed_url(server: LiveServer) -> str:
    return f"http://hookloupe:{PASSWORD}@127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def mcp(server, tmp_path_factory):
    """`python -m inspector.mcp_server --url http://hookloupe:PASSWORD@…`, one per module."""
    log = tmp_path_factory.mktemp("mcp-log") / "mcp-stderr.log"
    process = McpProcess([sys.executable, "-m", "inspector.mcp_server", "--url", authed_url(server)], log).start()
    yield process
    process.stop()


@pytest.fixture
def bin_(mcp):
    created = mcp.call("create_bin")
    yield created.data
    mcp.call("delete_bin", bin=created["bin"])


def test_lists_exactly_the_nine_tools_each_described(mcp):
    tools = mcp.tools()
    assert {tool.name for tool in tools} == NINE
    assert all(len(tool.description) > 80 for tool in tools)


def test_sample_then_secret_then_wait_finds_it_valid(mcp, bin_):
    sent = mcp.call("send_sample", provider="stripe", url=bin_["capture_url"], secret=STRIPE_SECRET)
    assert sent["status_code"] == 200
    assert sent["bin"] == bin_["bin"]
    mcp.call("add_secret", bin=bin_["bin"], label="stripe test", value=STRIPE_SECRET, provider="stripe")

    found = mcp.call("wait_for_request", bin=bin_["bin"], provider="stripe", verdict="valid", timeout_s=15)

    assert found["timed_out"] is False
    request = found["request"]
    assert request["id"] == sent["request_id"]
    assert request["provider"]["id"] == "stripe"
    assert request["signature"]["status"] == "valid"
    assert request["signature"]["secret"] == "stripe test"
    assert json.loads(request["body"])["type"] == sent["event"]
    assert STRIPE_SECRET not in found.text


def test_add_secret_never_echoes_the_value(mcp, bin_):
    added = mcp.call("add_secret", bin=bin_["bin"], label="k", value="s3cr3t-value-abcdef")
    assert "s3cr3t-value-ab" not in added.text
    assert added["secret"]["label"] == "k"


def test_explain_signature_gives_the_verdict_and_the_check_now(mcp, bin_):
    mcp.call("add_secret", bin=bin_["bin"], label="wrong one", value="whsec_not_the_right_secret")
    sent = mcp.call("send_sample", provider="stripe", url=bin_["capture_url"], secret=STRIPE_SECRET)
    mcp.call("wait_for_request", bin=bin_["bin"], verdict="invalid", timeout_s=15)

    explained = mcp.call("explain_signature", bin=bin_["bin"], id=sent["request_id"], at_now=True)

    assert explained["status"] == "invalid"
    assert explained["scheme"]
    assert explained["detail"]
    assert isinstance(explained["debug"], dict)
    assert explained["at_now"]["status"] == "invalid"
    assert "add_secret" in explained["next"]


def test_list_requests_counts_what_it_leaves_out(mcp, bin_):
    for index in range(3):
        httpx.post(bin_["capture_url"] + f"/orders/{index}", content=b"{}", timeout=10)
    httpx.put(bin_["capture_url"], content=b"x", timeout=10)

    listed = mcp.call("list_requests", bin=bin_["bin"], limit=2, method="POST", path="/orders/*")

    assert [item["path"] for item in listed["requests"]] == ["/orders/2", "/orders/1"]
    assert listed["more_requests"] == 1
    assert mcp.call("list_requests", bin=bin_["bin"], method="PUT")["more_requests"] == 0


def test_binary_body_comes_back_base64(mcp, bin_):
    body = bytes(range(256))
    request_id = httpx.post(bin_["capture_url"], content=body, timeout=10).json()["request_id"]

    shown = mcp.call("get_request", bin=bin_["bin"], id=request_id)

    assert shown["body_encoding"] == "base64"
    assert base64.b64decode(shown["body"]) == body
    assert shown["body_truncated_bytes"] == 0


def test_big_body_is_cut_with_the_count(mcp, bin_):
    body = ("é" + "a" * 99).encode() * 400  # 40,400 bytes of UTF-8
    request_id = httpx.post(bin_["capture_url"], content=body, timeout=10).json()["request_id"]

    shown = mcp.call("get_request", bin=bin_["bin"], id=request_id)

    assert shown["body_encoding"] == "utf-8"
    kept = shown["body"].encode()
    assert body.startswith(kept) and len(kept) <= 16 * 1024
    assert shown["body_truncated_bytes"] == len(body) - len(kept) > 0
    assert shown["body_size"] == len(body)


def test_headers_are_pairs_with_secrets_redacted(mcp, bin_):
    request_id = httpx.post(
        bin_["capture_url"],
        content=b"{}",
        headers=[("Authorization", "Bearer hunter2-token"), ("X-Dup", "1"), ("X-Other", "2")],
        timeout=10,
    ).json()["request_id"]

    shown = mcp.call("get_request", bin=bin_["bin"], id=request_id)

    assert ["Authorization", "[redacted]"] in shown["headers"]
    assert ["X-Dup", "1"] in shown["headers"]
    assert "hunter2-token" not in shown.text


def test_replay_request_reaches_a_local_target(mcp, bin_):
    target = RecordingTarget().start()
    try:
        request_id = httpx.post(bin_["capture_url"] + "/hook?x=1", content=b'{"a": 1}', timeout=10).json()["request_id"]

        replayed = mcp.call("replay_request", bin=bin_["bin"], id=request_id, url=target.url + "/in")
        edited = mcp.call(
            "replay_request", bin=bin_["bin"], id=request_id, url=target.url, body="changed", method="PUT"
        )
    finally:
        target.stop()

    assert replayed["status_code"] == 200
    assert replayed["response_body"] == '{"received": true}'
    assert ["X-Target", "yes"] in replayed["response_headers"]
    assert edited["status_code"] == 200
    assert [(got.method, got.path, got.body) for got in target.received] == [
        ("POST", "/in/hook?x=1", b'{"a": 1}'),
        ("PUT", "/hook?x=1", b"changed"),
    ]


def test_wait_timeout_is_a_result_with_near_misses_and_a_cursor(mcp, bin_):
    missed = httpx.post(bin_["capture_url"], content=b"no", timeout=10).json()["request_id"]

    waited = mcp.call("wait_for_request", bin=bin_["bin"], method="PUT", timeout_s=1)

    assert not waited.is_error
    assert waited["timed_out"] is True
    assert waited["last_id"] == missed
    assert [miss["id"] for miss in waited["near_misses"]] == [missed]
    assert "method" in waited["near_misses"][0]["missed"][0]
    assert f"after={missed}" in waited["next"]

    put = httpx.put(bin_["capture_url"], content=b"yes", timeout=10).json()["request_id"]
    found = mcp.call("wait_for_request", bin=bin_["bin"], method="PUT", after=waited["last_id"], timeout_s=5)
    assert found["request"]["id"] == put


def test_wait_continues_after_what_it_returned(mcp, bin_):
    first = httpx.post(bin_["capture_url"], content=b"1", timeout=10).json()["request_id"]
    second = httpx.post(bin_["capture_url"], content=b"2", timeout=10).json()["request_id"]

    assert mcp.call("wait_for_request", bin=bin_["bin"], timeout_s=5)["request"]["id"] == first
    assert mcp.call("wait_for_request", bin=bin_["bin"], timeout_s=5)["request"]["id"] == second
    assert mcp.call("wait_for_request", bin=bin_["bin"], timeout_s=0)["timed_out"] is True
    assert mcp.call("wait_for_request", bin=bin_["bin"], after=0, timeout_s=0)["request"]["id"] == first


def test_unknown_bin_is_an_error_with_a_hint(mcp):
    failed = mcp.call("list_requests", bin="no-such-bin-here")
    assert failed.is_error
    assert "'no-such-bin-here' does not exist" in failed.text
    assert "create_bin" in failed.text


def test_deleted_bin_is_gone(mcp):
    created = mcp.call("create_bin", expires_in_s=600)
    assert created["expires_at"]
    mcp.call("delete_bin", bin=created["bin"])
    failed = mcp.call("get_request", bin=created["bin"], id=1)
    assert failed.is_error and "does not exist" in failed.text


def test_unknown_capture_is_an_error_with_a_hint(mcp, bin_):
    failed = mcp.call("get_request", bin=bin_["bin"], id=999999)
    assert failed.is_error
    assert "404" in failed.text and "list_requests" in failed.text


def test_misspelt_matcher_is_an_error_listing_valid_names(mcp, bin_):
    failed = mcp.call("wait_for_request", bin=bin_["bin"], provder="stripe", timeout_s=0)
    assert failed.is_error
    assert "'provder'" in failed.text and "valid names:" in failed.text and "provider" in failed.text


def test_matcher_the_server_refuses_is_an_error_listing_valid_matchers(mcp, bin_):
    failed = mcp.call("list_requests", bin=bin_["bin"], headers={"": "x"})
    assert failed.is_error
    assert "unknown matcher" in failed.text and "valid matchers:" in failed.text


def test_unknown_provider_is_an_error(mcp, bin_):
    failed = mcp.call("wait_for_request", bin=bin_["bin"], provider="strpe", timeout_s=0)
    assert failed.is_error and "'strpe'" in failed.text and "stripe" in failed.text
    failed = mcp.call("send_sample", provider="strpe", url=bin_["capture_url"], secret="x")
    assert failed.is_error and "stripe" in failed.text


def test_unreachable_server_is_an_error_saying_how_to_start_it(tmp_path):
    url = f"http://hookloupe:{PASSWORD}@127.0.0.1:{free_port()}"
    process = McpProcess([sys.executable, "-m", "inspector.cli", "mcp", "--url", url], tmp_path / "err.log").start()
    try:
        assert process.tool_names() == NINE  # `hookloupe mcp` serves them too
        failed = process.call("create_bin")
    finally:
        process.stop()
    assert failed.is_error
    assert "server unreachable at http://127.0.0.1:" in failed.text
    assert "hookloupe serve" in failed.text
    assert PASSWORD not in process.stderr()


@pytest.mark.parametrize(
    ("userinfo", "extra", "shown"),
    [
        ("hookloupe:wrong-Pa55-guess@", [], "wrong-Pa55-guess"),
        ("", ["--token", "tok-Secret-0451"], "tok-Secret-0451"),
    ],
    ids=["password", "token"],
)
def test_refused_credentials_are_an_error_that_never_shows_them(server, tmp_path, userinfo, extra, shown):
    url = f"http://{userinfo}127.0.0.1:{server.port}"
    command = [sys.executable, "-m", "inspector.mcp_server", "--url", url, *extra]
    process = McpProcess(command, tmp_path / "err.log").start()
    try:
        failed = process.call("create_bin")
    finally:
        process.stop()
    assert failed.is_error and "401" in failed.text and "--token" in failed.text
    assert shown not in failed.text + process.stderr()


def test_no_output_ever_held_the_password(mcp):
    """Last in the module: every answer so far, and the server's stderr."""
    assert len(mcp.outputs) > 20
    everything = "\n".join(mcp.outputs) + mcp.stderr()
    assert PASSWORD not in everything and BASIC not in everything
