"""inspector.client against the real app: Hookloupe served in-process (as the pytest plugin does),
and a real gunicorn server with a password for HTTP Basic."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import LiveServer, free_port
from targets import RecordingTarget

from inspector import client as client_module
from inspector.client import (
    Bin,
    BinGoneError,
    Client,
    HookloupeError,
    WaitTimeoutError,
    strip_userinfo,
)
from inspector.client_shapes import matcher_params
from inspector.pytest_plugin import InProcessServer
from inspector.signing.samples import build_sample

PASSWORD = "pw-Zq81-never-shown"
TOKEN = "tok-Hk22-never-shown"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    server = InProcessServer(tmp_path_factory.mktemp("client"))
    yield server.start()
    server.stop()


@pytest.fixture
def client(server_url):
    with Client(server_url) as client:
        yield client


@pytest.fixture
def bin_(client):
    with client.create_bin(expires_in_s=600) as bin_:
        yield bin_


def post(bin_: Bin, path: str = "", **kwargs) -> int:
    """Capture one request; its id."""
    response = httpx.post(bin_.url + path, **kwargs)
    assert response.status_code == 200
    return response.json()["request_id"]


def post_stripe(bin_: Bin, secret: str = "whsec_test", event: str = "invoice.paid") -> int:
    sample = build_sample("stripe", secret=secret, event=event, at=datetime.now(UTC))
    return post(bin_, "/stripe", headers=sample.headers, content=sample.body)


def post_later(bin_: Bin, delay_s: float, path: str = "/later") -> threading.Timer:
    timer = threading.Timer(delay_s, lambda: httpx.post(bin_.url + path, content=b"late"))
    timer.start()
    return timer


class CountingTransport(httpx.HTTPTransport):
    """The real network, counting wait calls; `fail_waits` makes the first that many fail to connect."""

    def __init__(self, fail_waits: int = 0):
        super().__init__()
        self.fail_waits = fail_waits
        self.waits: list[httpx.Request] = []
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/requests/wait"):
            self.waits.append(request)
            if len(self.waits) <= self.fail_waits:
                raise httpx.ConnectError("connection refused", request=request)
        return super().handle_request(request)


# --- matchers as query parameters --------------------------------------------------------------


def test_matcher_params_flatten_dicts_lists_and_json_values():
    params = matcher_params(
        {"method": "POST", "h": {"X-Kind": "a*"}, "json": {"n": 42, "ok": True, "gone": None}, "q.page": ["1", "2"]}
    )
    assert params == [
        ("method", "POST"),
        ("h.X-Kind", "a*"),
        ("json.n", "42"),
        ("json.ok", "true"),
        ("json.gone", "null"),
        ("q.page", "1"),
        ("q.page", "2"),
    ]


def test_strip_userinfo_keeps_everything_else():
    assert strip_userinfo("https://me:pw@host:8443/base/h/abc?x=1") == "https://host:8443/base/h/abc?x=1"
    assert strip_userinfo("http://host/bins/abc") == "http://host/bins/abc"


# --- bins ------------------------------------------------------------------------------------------


def test_create_bin_gives_capture_url_expiry_and_a_cursor_at_zero(client, server_url):
    with client.create_bin(expires_in_s=120) as bin_:
        assert bin_.url == f"{server_url}/h/{bin_.id}"
        assert bin_.inspect_url == f"{server_url}/bins/{bin_.id}"
        assert bin_.expires_at is not None
        assert timedelta(seconds=100) < bin_.expires_at - datetime.now(UTC) <= timedelta(seconds=120)
        assert bin_.cursor == 0
    with pytest.raises(BinGoneError) as gone:
        client.bin(bin_.id)
    assert gone.value.status == 404


def test_leaving_the_block_of_a_bin_already_deleted_is_fine(client):
    with client.create_bin() as bin_:
        bin_.delete()
    with pytest.raises(BinGoneError):
        bin_.delete()


def test_an_expired_bin_raises_bin_gone_with_410(client):
    bin_ = client.create_bin(expires_in_s=1)
    time.sleep(1.1)
    with pytest.raises(BinGoneError) as gone:
        bin_.count()
    assert gone.value.status == 410 and "expired" in str(gone.value)


def test_custom_bin_name_taken_is_a_409(client):
    with client.create_bin("client-taken-name"), pytest.raises(HookloupeError) as taken:
        client.create_bin("client-taken-name")
    assert taken.value.status == 409 and not isinstance(taken.value, BinGoneError)


def test_healthy_is_true_for_a_server_and_false_for_a_closed_port(client):
    assert client.healthy() is True
    with Client(f"http://127.0.0.1:{free_port()}") as nobody:
        assert nobody.healthy() is False
        with pytest.raises(HookloupeError) as unreachable:
            nobody.create_bin()
    assert unreachable.value.status is None and "cannot reach" in str(unreachable.value)


# --- wait_for ------------------------------------------------------------------------------------------


def test_post_then_wait_finds_the_capture_and_reads_it(bin_):
    capture_id = post(bin_, "/orders/7?paid=yes", json={"order": {"id": 7, "paid": True}}, headers={"X-Shop": "one"})
    capture = bin_.wait_for(timeout=2, method="post", path="/orders/*", json={"order.id": 7, "order.paid": True})
    assert capture.id == capture_id and bin_.cursor == capture_id
    assert (capture.method, capture.path, capture.query_string) == ("POST", "/orders/7", "paid=yes")
    assert capture.query == [("paid", "yes")]
    assert capture.header("x-shop") == "one" and capture.header("X-Missing") is None
    assert capture.json() == {"order": {"id": 7, "paid": True}}
    assert capture.received_at.tzinfo is not None


def test_each_wait_returns_the_next_match_then_times_out(bin_):
    first, second = post(bin_, content=b"a"), post(bin_, content=b"b")
    assert bin_.wait_for(timeout=2).id == first
    assert bin_.wait_for(timeout=2).id == second
    with pytest.raises(WaitTimeoutError):
        bin_.wait_for(timeout=0)
    assert bin_.cursor == second


def test_wait_returns_a_capture_that_arrives_during_the_wait(bin_):
    post_later(bin_, 0.4, "/during")
    started = time.monotonic()
    capture = bin_.wait_for(timeout=15, path="/during")
    assert capture.text == "late"
    assert time.monotonic() - started < 7.5  # answered on arrival, long before the timeout


def test_a_bin_got_by_url_waits_only_for_newer_captures(client, bin_):
    older = post(bin_, content=b"old")
    again = client.bin(bin_.inspect_url)
    assert again.cursor == older
    with pytest.raises(WaitTimeoutError):
        again.wait_for(timeout=0)
    newer = post(bin_, content=b"new")
    assert again.wait_for(timeout=2).id == newer
    assert client.bin(bin_.url + "/any/sub/path").id == bin_.id


def test_timeout_error_lists_the_near_miss_and_what_it_missed(bin_):
    capture_id = post_stripe(bin_)
    with pytest.raises(WaitTimeoutError) as timeout:
        bin_.wait_for(timeout=1, provider="github")
    error = timeout.value
    assert isinstance(error, AssertionError)
    assert "provider='github'" in str(error)
    assert f"#{capture_id} POST /stripe — missed: provider: wanted 'github', got 'stripe'" in str(error)
    assert [miss["id"] for miss in error.near_misses] == [capture_id]


def test_timeout_error_on_a_body_matcher_names_the_capture(bin_):
    capture_id = post(bin_, "/x", content=b"hello")
    with pytest.raises(WaitTimeoutError) as timeout:
        bin_.wait_for(timeout=0, text="goodbye")
    assert f"#{capture_id} POST /x — missed: text: 'goodbye' not found" in str(timeout.value)


def test_timeout_without_any_capture_says_none_arrived(bin_):
    with pytest.raises(WaitTimeoutError, match="no capture arrived"):
        bin_.wait_for(timeout=0)


def test_unknown_matcher_is_the_servers_400_not_a_timeout(bin_):
    with pytest.raises(HookloupeError) as refused:
        bin_.wait_for(timeout=1, provder="stripe")
    assert refused.value.status == 400 and "unknown matcher 'provder'" in str(refused.value)
    assert not isinstance(refused.value, WaitTimeoutError)


def test_waiting_on_the_verdict_sees_the_analysis_of_a_new_secret(bin_):
    capture_id = post_stripe(bin_, event="charge.succeeded")
    assert bin_.wait_for(timeout=2, provider="stripe").verdict == "no_secret"
    bin_.cursor = 0
    bin_.add_secret("stripe", "whsec_test", provider="stripe")
    capture = bin_.wait_for(timeout=3, provider="stripe", verdict="valid", event="charge.*")
    assert capture.id == capture_id and capture.event == "charge.succeeded"
    assert capture.signature["secret"] == "stripe"


def test_a_long_wait_is_several_server_waits_that_continue_after_last_id(monkeypatch, server_url):
    monkeypatch.setattr(client_module, "MAX_SERVER_WAIT_S", 1)
    transport = CountingTransport()
    with Client(server_url, transport=transport) as client, client.create_bin() as bin_:
        post_later(bin_, 1.6, "/late")
        capture = bin_.wait_for(timeout=4, path="/late")
    assert capture.path == "/late"
    assert len(transport.waits) >= 2
    assert all(wait.url.params["timeout_s"] == "1" for wait in transport.waits)


def test_connection_errors_during_a_wait_are_retried(monkeypatch, server_url):
    monkeypatch.setattr(client_module, "_RETRY_PAUSE_S", 0.01)
    transport = CountingTransport(fail_waits=2)
    with Client(server_url, transport=transport) as client, client.create_bin() as bin_:
        capture_id = post(bin_, content=b"x")
        assert bin_.wait_for(timeout=2).id == capture_id
    assert len(transport.waits) == 3


def test_a_server_that_stays_unreachable_is_an_error_not_a_timeout(monkeypatch, server_url):
    monkeypatch.setattr(client_module, "_RETRY_PAUSE_S", 0.01)
    transport = CountingTransport(fail_waits=100)
    with Client(server_url, transport=transport) as client, client.create_bin() as bin_:
        with pytest.raises(HookloupeError) as failed:
            bin_.wait_for(timeout=2)
    assert not isinstance(failed.value, WaitTimeoutError) and failed.value.status is None
    assert len(transport.waits) == client_module.WAIT_RETRIES + 1


# --- reading ----------------------------------------------------------------------------------------------


def test_requests_are_newest_first_filtered_and_fetched_lazily(bin_):
    ids = [post(bin_, f"/n/{n}", content=f"body {n}".encode()) for n in range(3)]
    captures = bin_.requests()
    assert [capture.id for capture in captures] == ids[::-1]
    assert "body_base64" not in captures[0].summary
    assert captures[0].body == b"body 2"
    assert [capture.id for capture in bin_.requests(path="/n/1")] == [ids[1]]
    assert [capture.id for capture in bin_.requests(limit=2)] == ids[:0:-1]
    assert bin_.count() == 3 and bin_.count(path="/n/[01]") == 2


def test_get_of_a_missing_capture_is_a_404_not_a_gone_bin(bin_):
    capture_id = post(bin_, content=b"x")
    assert bin_.get(capture_id).text == "x"
    with pytest.raises(HookloupeError) as missing:
        bin_.get(capture_id + 1000)
    assert missing.value.status == 404 and not isinstance(missing.value, BinGoneError)


def test_clear_and_stats(bin_):
    post(bin_, content=b"x")
    assert bin_.stats()["request_count"] == 1
    bin_.clear()
    assert bin_.count() == 0


def test_replay_sends_the_capture_to_a_target(bin_):
    target = RecordingTarget().start()
    try:
        capture_id = post(bin_, "/hook?x=1", content=b"payload")
        delivery = bin_.replay(capture_id, target.url + "/in", headers={"X-Extra": "1"}, body=b"changed")
        assert delivery["status_code"] == 200
        (received,) = target.wait_for(1)
        assert (received.path, received.body, received.header("X-Extra")) == ("/in/hook?x=1", b"changed", "1")
    finally:
        target.stop()


# --- credentials never shown ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """gunicorn with HOOKLOUPE_PASSWORD set: the API needs HTTP Basic."""
    server = LiveServer(tmp_path_factory.mktemp("guarded"), env={"HOOKLOUPE_PASSWORD": PASSWORD}, workers=1).start()
    yield server
    server.stop()


def with_password(url: str, password: str = PASSWORD) -> str:
    return url.replace("http://", f"http://anyone:{password}@")


@pytest.mark.server
def test_password_in_the_url_is_sent_as_basic_and_never_shown(guarded):
    with Client(with_password(guarded.url)) as client, client.create_bin() as bin_:
        post(bin_, content=b"x")
        capture = bin_.wait_for(timeout=2)
        shown = " ".join([repr(client), client.url, repr(bin_), bin_.url, bin_.inspect_url, repr(capture)])
        assert PASSWORD not in shown and "anyone" not in shown
        with pytest.raises(HookloupeError) as missing:
            bin_.get(capture.id + 1000)
        assert PASSWORD not in str(missing.value)


@pytest.mark.server
def test_a_wrong_password_is_a_401_that_does_not_repeat_it(guarded):
    wrong = "wrong-Pq9-password"
    with Client(with_password(guarded.url, wrong)) as client, pytest.raises(HookloupeError) as refused:
        client.create_bin()
    assert refused.value.status == 401 and wrong not in str(refused.value) and wrong not in repr(client)
    with Client(guarded.url) as anonymous, pytest.raises(HookloupeError) as refused:
        anonymous.create_bin()
    assert refused.value.status == 401


def test_errors_of_an_unreachable_server_do_not_show_the_password():
    with Client(with_password(f"http://127.0.0.1:{free_port()}"), TOKEN) as client:
        with pytest.raises(HookloupeError) as unreachable:
            client.create_bin()
        shown = str(unreachable.value) + repr(client)
    assert PASSWORD not in shown and TOKEN not in shown


def test_a_token_is_sent_as_bearer_and_never_shown(server_url):
    transport = CountingTransport()
    with Client(server_url, TOKEN, transport=transport) as client:
        with pytest.raises(BinGoneError) as gone:
            client.bin("no-such-bin-here")
        assert TOKEN not in str(gone.value) + repr(client)
    assert transport.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
