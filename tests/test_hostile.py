"""Hostile input against a real `hookloupe serve`: malformed HTTP over raw sockets, hostile
bodies, API abuse, cross-site writes, denied outbound targets and the instance password.

Every case asserts its own expected answer (a specific 4xx, or a 2xx capture with given
properties, or a connection closed without an answer), that nothing answered 5xx, and then
that the server survived: `/healthz` answers 200, a capture made at module start is still
byte-exact, and the server's log gained no traceback. A case that must store nothing checks
that its bin's request count did not move.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from conftest import LiveServer
from hostile_helpers import (
    Exchange,
    Survival,
    chunked,
    exchange,
    make_sentinel,
    newest_capture,
    request_bytes,
    request_count,
)
from markupsafe import escape

pytestmark = pytest.mark.server

RAW_BIN = "hostile-raw"
BODY_BIN = "hostile-body"
API_BIN = "hostile-api"
REPLAY_BIN = "hostile-replay"
PASSWORD = "hunter2-hostile"
BIG = "99999999999999999999999"  # over 2**64
UNSET = object()


# --- fixtures: one server for the module, its sentinel, and the bins the cases use ----------


# A short header timeout makes the slow-client cases quick; a fast heartbeat lets an event stream
# whose client left notice it at once (else stopping the server waits out graceful_timeout).
SERVER_ENV = {"HOOKLOUPE_HEADER_TIMEOUT_S": "2", "HOOKLOUPE_IDLE_TIMEOUT_S": "2", "HOOKLOUPE_STREAM_HEARTBEAT_S": "0.5"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("hostile"), env=SERVER_ENV).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def survival(server):
    """The after-case checks, armed with a sentinel capture made before any hostile input."""
    checks = Survival(server, make_sentinel(server, "hostile-sentinel"))
    yield checks
    checks.client.close()


@pytest.fixture(scope="module")
def client(survival) -> httpx.Client:
    return survival.client


@pytest.fixture(scope="module")
def bins(server, client) -> dict[str, Any]:
    """The module's bins, and one capture in the API and replay bins (`api_rid`, `replay_rid`)."""
    for name in (RAW_BIN, BODY_BIN, API_BIN, REPLAY_BIN):
        assert client.post("/api/bins", json={"name": name}).status_code == 201
    rids = {}
    for name in (API_BIN, REPLAY_BIN):
        answer = client.post(f"/h/{name}/x?y=1", content=b'{"hello": "world"}')
        rids[name] = answer.json()["request_id"]
    return {"api_rid": rids[API_BIN], "replay_rid": rids[REPLAY_BIN]}


def assert_no_5xx(statuses: list[int], what: str) -> None:
    assert all(status < 500 for status in statuses), f"{what}: answered {statuses}"


# --- 1. protocol: raw bytes on a socket -----------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """Raw bytes for one connection and what must come back.

    `answers` holds the acceptable statuses of each final (non-1xx) answer, in order; `stores`
    is how many captures RAW_BIN must gain (None: not checked); `silent_ok` also accepts a
    close without any answer; `check` inspects the new captures (oldest first) and the exchange.
    """

    id: str
    parts: tuple[bytes, ...]
    answers: tuple[frozenset[int], ...]
    stores: int | None = 0
    silent_ok: bool = False
    half_close: bool = False
    pause: float = 0.0
    timeout: float = 5.0
    check: Callable[[list[dict], Exchange], None] | None = None


def refused(
    case_id: str,
    *parts: bytes,
    statuses: tuple[int, ...] = (400,),
    silent_ok: bool = False,
    half_close: bool = False,
    stores: int | None = 0,
    pause: float = 0.0,
    timeout: float = 5.0,
) -> Raw:
    """A request that must be turned away with one of `statuses`, storing nothing."""
    return Raw(case_id, parts, (frozenset(statuses),), stores, silent_ok, half_close, pause, timeout)


def accepted(
    case_id: str,
    *parts: bytes,
    check: Callable[[list[dict], Exchange], None] | None = None,
    count: int = 1,
    pause: float = 0.0,
) -> Raw:
    """`count` requests that must each be captured (200) and stored."""
    return Raw(case_id, parts, (frozenset({200}),) * count, count, pause=pause, check=check)


def incomplete(case_id: str, *parts: bytes, half_close: bool = False) -> Raw:
    """A body that ends before its Content-Length or chunked framing said: 400, and what
    arrived is stored once, marked `body_incomplete`."""

    def check(captures: list[dict], _exchange: Exchange) -> None:
        assert captures[-1]["body_incomplete"] is True

    return Raw(case_id, parts, (frozenset({400}),), 1, half_close=half_close, check=check)


def post(*headers: str, body: bytes = b"", path: str = "", version: str = "HTTP/1.1", **options: bool) -> bytes:
    """A POST to RAW_BIN (Host and Connection: close added unless `host`/`close` say no)."""
    return request_bytes(f"POST /h/{RAW_BIN}{path} {version}", headers, body, **options)


def line(request_line: str, *headers: str, body: bytes = b"", **options: bool) -> bytes:
    """Any request line, with the usual Host and Connection: close."""
    return request_bytes(request_line, headers, body, **options)


def stored_body(expected: bytes) -> Callable[[list[dict], Exchange], None]:
    def check(captures: list[dict], _exchange: Exchange) -> None:
        assert base64.b64decode(captures[-1]["body_base64"]) == expected

    return check


def stored_path(path: str, query: str = "") -> Callable[[list[dict], Exchange], None]:
    def check(captures: list[dict], _exchange: Exchange) -> None:
        assert (captures[-1]["path"], captures[-1]["query_string"]) == (path, query)

    return check


def stored_header(name: str, value: str) -> Callable[[list[dict], Exchange], None]:
    def check(captures: list[dict], _exchange: Exchange) -> None:
        assert [name, value] in captures[-1]["headers"]

    return check


def continued_first(captures: list[dict], exchange_: Exchange) -> None:
    assert exchange_.statuses[0] == 100, "no 100 Continue before the answer"
    assert base64.b64decode(captures[-1]["body_base64"]) == b"hello"


SMUGGLED = post("Content-Length: 0")  # a whole second request hidden in a body
HIDDEN_IN_CHUNK = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
CLIENT_HELLO = bytes.fromhex(
    "1603010200010001fc0303"
    + "ab" * 32
    + "20"
    + "cd" * 32
    + "0020"
    + "130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035"
    + "0100"
) + bytes(400)

RAW_CASES = [
    # request smuggling: every ambiguous framing is refused, and nothing hidden in it runs
    refused(
        "cl-and-te", post("Content-Length: 6", "Transfer-Encoding: chunked", body=b"0\r\n\r\n" + SMUGGLED, close=False)
    ),
    refused("te-and-cl", post("Transfer-Encoding: chunked", "Content-Length: 4", body=HIDDEN_IN_CHUNK, close=False)),
    refused(
        "duplicate-cl-different", post("Content-Length: 5", "Content-Length: 6", body=b"hello!" + SMUGGLED, close=False)
    ),
    refused("duplicate-cl-same", post("Content-Length: 5", "Content-Length: 5", body=b"hello")),
    refused("cl-list", post("Content-Length: 5, 5", body=b"hello")),
    refused("te-obs-fold", post("Transfer-Encoding:", " chunked", body=b"0\r\n\r\n")),
    refused("te-obs-fold-value", post("Transfer-Encoding: x,", " chunked", body=b"0\r\n\r\n")),
    refused("te-xchunked", post("Transfer-Encoding: xchunked", body=b"0\r\n\r\n" + SMUGGLED, close=False)),
    refused("te-chunked-not-last", post("Transfer-Encoding: chunked, gzip", body=b"0\r\n\r\n" + SMUGGLED, close=False)),
    refused("te-chunked-twice", post("Transfer-Encoding: chunked, chunked", body=b"0\r\n\r\n")),
    refused("te-identity", post("Transfer-Encoding: identity", body=b"hello")),
    refused("te-space-before-colon", post("Transfer-Encoding : chunked", body=b"0\r\n\r\n")),
    refused("te-vertical-tab", post("Transfer-Encoding: \x0bchunked", body=b"0\r\n\r\n")),
    refused("te-on-http-1.0", post("Transfer-Encoding: chunked", body=b"0\r\n\r\n", version="HTTP/1.0")),
    refused("te-duplicate-header", post("Transfer-Encoding: chunked", "Transfer-Encoding: chunked", body=b"0\r\n\r\n")),
    # methods and versions
    refused("method-lowercase", line(f"post /h/{RAW_BIN} HTTP/1.1")),
    refused("method-bad-char", line(f"PO(ST /h/{RAW_BIN} HTTP/1.1")),
    refused("method-too-long", line(f"{'A' * 40} /h/{RAW_BIN} HTTP/1.1")),
    refused("version-2.0", line(f"GET /h/{RAW_BIN} HTTP/2.0"), statuses=(400, 505)),
    refused("version-lowercase", line(f"GET /h/{RAW_BIN} http/1.1")),
    refused("version-garbage", line(f"GET /h/{RAW_BIN} HTTX/1.1")),
    refused("version-missing-minor", line(f"GET /h/{RAW_BIN} HTTP/1")),
    accepted("version-1.2-read-as-1.1", line(f"POST /h/{RAW_BIN} HTTP/1.2", "Content-Length: 2", body=b"ok")),
    refused("http-0.9", f"GET /h/{RAW_BIN}\r\n".encode(), silent_ok=True),
    refused("extra-space-in-request-line", line(f"GET  /h/{RAW_BIN} HTTP/1.1")),
    refused("bare-lf-line-endings", f"GET /h/{RAW_BIN} HTTP/1.1\nHost: x\nConnection: close\n\n".encode()),
    # header syntax
    refused("header-without-colon", post("X-Broken header")),
    refused("space-before-colon", post("X-Spaced : value")),
    refused("empty-header-name", post(": value")),
    refused("header-name-bad-char", post("X-Bad(Name: value")),
    refused("nul-in-header-value", post("X-Nul: a\x00b")),
    refused("cr-in-header-value", post("X-Cr: a\rb")),
    refused("obs-fold-ordinary-header", post("X-Folded: a", " b")),
    refused("nul-in-request-target", line(f"GET /h/{RAW_BIN}/a\x00b HTTP/1.1")),
    refused("ctl-in-request-target", line(f"GET /h/{RAW_BIN}/a\x01b HTTP/1.1")),
    refused("raw-utf8-in-request-target", line(f"GET /h/{RAW_BIN}/caf\xc3\xa9 HTTP/1.1")),
    # limits: gunicorn's 8190-byte request line, 16384-byte field, 100 fields
    refused("request-line-over-8190", line(f"GET /h/{RAW_BIN}/{'a' * 9000} HTTP/1.1"), statuses=(400, 414)),
    refused("header-field-over-16384", post("X-Long: " + "a" * 17000), statuses=(400, 431)),
    refused("over-100-headers", post(*[f"X-H{i}: v" for i in range(110)]), statuses=(400, 431)),
    # Host
    refused("host-missing-http-1.1", line(f"GET /h/{RAW_BIN} HTTP/1.1", host=False)),
    refused("host-duplicated", line(f"GET /h/{RAW_BIN} HTTP/1.1", "Host: other.example")),
    refused("host-invalid", line(f"GET /h/{RAW_BIN} HTTP/1.1", "Host: a b", host=False)),
    accepted("host-missing-http-1.0", line(f"GET /h/{RAW_BIN} HTTP/1.0", host=False)),
    # request targets
    accepted(
        "absolute-form-target",
        line(f"POST http://127.0.0.1/h/{RAW_BIN}/abs?x=1 HTTP/1.1", "Content-Length: 0"),
        check=stored_path("/abs", "x=1"),
    ),
    accepted("absolute-form-other-host", line(f"POST http://evil.example/h/{RAW_BIN} HTTP/1.1", "Content-Length: 0")),
    refused("asterisk-form", line("OPTIONS * HTTP/1.1"), statuses=(400, 404)),
    refused("connect-authority-form", line("CONNECT 127.0.0.1:80 HTTP/1.1"), statuses=(400, 404, 405)),
    refused("unknown-bin", line("POST /h/no-such-bin-here HTTP/1.1", "Content-Length: 0"), statuses=(404,)),
    refused("encoded-slash-in-bin", line(f"POST /h/{RAW_BIN[:4]}%2F{RAW_BIN[4:]} HTTP/1.1"), statuses=(404,)),
    accepted(
        "dot-segments-stay-captured",
        line(f"GET /h/{RAW_BIN}/../../api/bins HTTP/1.1"),
        check=stored_path("/../../api/bins"),
    ),
    accepted(
        "encoded-nul-in-path", line(f"GET /h/{RAW_BIN}/%00?%00=%00 HTTP/1.1"), check=stored_path("/%00", "%00=%00")
    ),
    accepted("latin-1-header-value", post("X-Name: caf\xe9"), check=stored_header("X-Name", "café")),
    accepted("utf-8-header-value", post("X-Name: caf\xc3\xa9"), check=stored_header("X-Name", "café")),
    # pipelining and connection reuse
    accepted(
        "pipelined-two",
        post("Content-Length: 1", body=b"a", close=False) + post("Content-Length: 1", body=b"b"),
        count=2,
    ),
    Raw(
        "pipelined-then-garbage",
        (post("Content-Length: 5", body=b"hello", close=False) + b"GARBAGE\r\n\r\n",),
        (frozenset({200}), frozenset({400})),
        stores=1,
        check=stored_body(b"hello"),
    ),
    Raw(
        "body-longer-than-cl-is-next-request",
        (post("Content-Length: 2", body=b"ok", close=False) + b"X" * 10 + b"\r\n\r\n",),
        (frozenset({200}), frozenset({400})),
        stores=1,
        check=stored_body(b"ok"),
    ),
    accepted("upgrade-websocket-ignored", post("Upgrade: websocket", "Connection: Upgrade", close=False)),
    accepted(
        "upgrade-h2c-ignored",
        post("Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__", "Connection: Upgrade, HTTP2-Settings"),
    ),
    # not HTTP at all
    refused("garbage-bytes", b"\x00\xff\xfe\x01garbage\r\n\r\n", silent_ok=True),
    refused("tls-client-hello", CLIENT_HELLO, silent_ok=True, half_close=True),
    refused("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", silent_ok=True),
    refused("proxy-protocol-line", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" + post(), silent_ok=True),
    refused("only-crlf-then-close", b"\r\n\r\n\r\n", silent_ok=True, half_close=True),
    # slow clients: headers must be complete within HEADER_TIMEOUT_S (2 s here)
    refused("tls-client-hello-held-open", CLIENT_HELLO, statuses=(400, 408), silent_ok=True, timeout=4),
    refused(
        "request-line-never-finished", f"POST /h/{RAW_BIN}".encode(), statuses=(400, 408), silent_ok=True, timeout=4
    ),
    refused(
        "headers-trickled-past-timeout",
        *[f"POST /h/{RAW_BIN} HTTP/1.1\r\n".encode()] + [b"X-Slow: %d\r\n" % n for n in range(6)] + [b"\r\n"],
        statuses=(400, 408),
        silent_ok=True,
        pause=0.7,
        timeout=6,
    ),
    refused(
        "headers-cut-then-close", f"POST /h/{RAW_BIN} HTTP/1.1\r\nHost: x\r\n".encode(), silent_ok=True, half_close=True
    ),
    # Expect
    Raw(
        "expect-100-continue",
        (post("Content-Length: 5", "Expect: 100-continue"), b"hello"),
        (frozenset({200}),),
        stores=1,
        pause=0.3,
        check=continued_first,
    ),
    accepted(
        "expect-100-on-http-1.0", post("Content-Length: 2", "Expect: 100-continue", body=b"ok", version="HTTP/1.0")
    ),
    refused("expect-unknown", post("Content-Length: 1", "Expect: 200-ok", body=b"x"), statuses=(417,)),
    # Content-Length values
    refused("cl-negative", post("Content-Length: -1")),
    refused("cl-non-numeric", post("Content-Length: abc", body=b"abc")),
    refused("cl-plus-sign", post("Content-Length: +5", body=b"hello")),
    refused("cl-hex", post("Content-Length: 0x5", body=b"hello")),
    refused("cl-decimal-point", post("Content-Length: 5.0", body=b"hello")),
    refused("cl-superscript-digit", post("Content-Length: \xb2", body=b"ok")),
    refused("cl-inner-space", post("Content-Length: 1 0", body=b"0123456789")),
    refused(
        "cl-huge-short-body",
        post(f"Content-Length: {BIG}", body=b"abc"),
        statuses=(400, 413),
        half_close=True,
        stores=None,
    ),
    # chunked framing
    accepted(
        "chunked-uppercase-coding",
        post("Transfer-Encoding: CHUNKED", body=chunked(b"hello")),
        check=stored_body(b"hello"),
    ),
    accepted(
        "chunk-extension-ignored",
        post("Transfer-Encoding: chunked", body=b"5;name=val\r\nhello\r\n0\r\n\r\n"),
        check=stored_body(b"hello"),
    ),
    accepted(
        "chunked-trailer",
        post("Transfer-Encoding: chunked", body=b"2\r\nok\r\n0\r\nX-Trailer: t\r\n\r\n"),
        check=stored_body(b"ok"),
    ),
    accepted(
        "chunked-leading-zeros",
        post("Transfer-Encoding: chunked", body=b"0002\r\nok\r\n0\r\n\r\n"),
        check=stored_body(b"ok"),
    ),
    # Broken chunked framing, a stalled body and a body cut short: 400, stored as incomplete.
    incomplete("chunk-size-overflow", post("Transfer-Encoding: chunked", body=b"F" * 24 + b"\r\nab\r\n0\r\n\r\n")),
    incomplete("chunk-size-bad-hex", post("Transfer-Encoding: chunked", body=b"zz\r\nab\r\n0\r\n\r\n")),
    incomplete("chunk-size-negative", post("Transfer-Encoding: chunked", body=b"-2\r\nab\r\n0\r\n\r\n")),
    incomplete("chunk-size-0x-prefix", post("Transfer-Encoding: chunked", body=b"0x2\r\nab\r\n0\r\n\r\n")),
    incomplete("chunk-missing-crlf", post("Transfer-Encoding: chunked", body=b"2\r\nabXX0\r\n\r\n")),
    incomplete("chunk-lf-only", post("Transfer-Encoding: chunked", body=b"2\nab\n0\n\n"), half_close=True),
    incomplete("chunk-bare-cr-in-extension", post("Transfer-Encoding: chunked", body=b"2;a=\rb\r\nab\r\n0\r\n\r\n")),
    incomplete(
        "chunk-missing-terminator-then-close",
        post("Transfer-Encoding: chunked", body=b"5\r\nhello\r\n"),
        half_close=True,
    ),
    incomplete("chunk-data-cut-then-close", post("Transfer-Encoding: chunked", body=b"a\r\nhel"), half_close=True),
    incomplete("chunk-data-stalls", post("Transfer-Encoding: chunked", body=b"a\r\nhel")),
    incomplete("body-shorter-than-cl-then-close", post("Content-Length: 100", body=b"short"), half_close=True),
    incomplete("body-shorter-than-cl-stalls", post("Content-Length: 100", body=b"short")),
]


@pytest.mark.parametrize("case", RAW_CASES, ids=lambda case: case.id)
def test_raw_protocol(case: Raw, server, survival, client, bins):
    with survival.around():
        before = request_count(client, RAW_BIN)
        got = exchange(
            server.port,
            *case.parts,
            pause=case.pause,
            half_close=case.half_close,
            timeout=case.timeout,
            answers=len(case.answers),
        )
        assert_no_5xx(got.statuses, case.id)
        finals = [a for a in got.answers if a.status >= 200]
        silent = case.silent_ok and not got.answers and got.closed
        if not silent:
            assert len(finals) == len(case.answers), got.describe()
            for answer, allowed in zip(finals, case.answers, strict=True):
                assert answer.status in allowed, got.describe()
        if case.stores is not None:
            after = request_count(client, RAW_BIN)
            assert after == before + case.stores, f"{after - before} captures stored, expected {case.stores}"
        if case.check is not None:
            listed = client.get(f"/api/bins/{RAW_BIN}/requests", params={"limit": case.stores}).json()["requests"]
            captures = [client.get(f"/api/bins/{RAW_BIN}/requests/{s['id']}").json() for s in reversed(listed)]
            case.check(captures, got)


# --- 2. bodies: hostile content captured, then every reader of it still answers ---------------


@dataclass(frozen=True)
class Body:
    """A body sent to BODY_BIN (built when the case runs if callable); it must be captured (200)
    and stored byte-exact, and every API reader and page of it must answer 200. `check` gets
    the stored Request JSON and the HTML of the pages that show it."""

    id: str
    body: bytes | Callable[[], bytes]
    headers: dict[str, str] = field(default_factory=dict)
    max_page_bytes: int | None = None
    check: Callable[[dict, list[str]], None] | None = None


def deep(opening: bytes, closing: bytes, depth: int = 100_000, middle: bytes = b"1") -> bytes:
    return opening * depth + middle + closing * depth


def bomb(mib: int, wbits: int) -> Callable[[], bytes]:
    """`mib` MiB of zero bytes, compressed when the case runs (wbits 31: gzip, 15: zlib, -15: raw)."""

    def build() -> bytes:
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        block = bytes(1024 * 1024)
        return b"".join(packer.compress(block) for _ in range(mib)) + packer.flush()

    return build


def multipart(parts: int, boundary: str = "b0undary") -> bytes:
    chunk = f'--{boundary}\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n'.encode()
    return chunk * parts + f"--{boundary}--\r\n".encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<lolz>&lol9;</lolz>"""
XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
SLACK = {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "v0=00", "Content-Type": "application/json"}
TWITCH = {"Twitch-Eventsub-Message-Type": "webhook_callback_verification", "Content-Type": "application/json"}


def never_shows(*needles: str) -> Callable[[dict, list[str]], None]:
    """Every page's HTML lacks each needle (an expansion that must not happen, a leaked file)."""

    def check(_capture: dict, pages: list[str]) -> None:
        for html in pages:
            for needle in needles:
                assert needle not in html, f"a page shows {needle[:40]!r}"

    return check


CHARSETS = [
    "zlib_codec",
    "rot13",
    "base64_codec",
    "hex_codec",
    "uu_codec",
    "bz2_codec",
    "quopri_codec",
    "utf-16",
    "utf-7",
    "idna",
    "punycode",
    "unicode_escape",
    "raw_unicode_escape",
    "undefined",
    "mbcs",
    "x" * 300,
]
NOT_UTF8 = b"caf\xe9 \xff\xfe \xc3\x28 \xed\xa0\x80 end"

BODY_CASES = [
    Body("deep-json-arrays", deep(b"[", b"]"), {"Content-Type": "application/json"}),
    Body("deep-json-objects", deep(b'{"a":', b"}"), {"Content-Type": "application/json"}),
    Body("deep-json-unclosed", b"[" * 100_000, {"Content-Type": "application/json"}),
    Body(
        "deep-json-slack-handshake",
        b'{"type":"url_verification","challenge":"c1","deep":' + deep(b"[", b"]") + b"}",
        SLACK,
    ),
    Body(
        "deep-json-around-slack-handshake",
        deep(b'{"a":', b"}", middle=b'{"type":"url_verification","challenge":"c2"}'),
        SLACK,
    ),
    Body("deep-json-twitch-handshake", b'{"challenge":"c3","deep":' + deep(b"[", b"]") + b"}", TWITCH),
    Body("deep-json-github", deep(b'{"a":', b"}"), {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=00"}),
    Body("json-huge-integer", b'{"n": ' + b"9" * 100_000 + b"}", {"Content-Type": "application/json"}),
    Body("json-huge-exponent", b'{"n": 1e999999, "m": -1e999999}', {"Content-Type": "application/json"}),
    Body("json-nan-infinity", b"[NaN, Infinity, -Infinity]", {"Content-Type": "application/json"}),
    Body("json-lone-surrogate", b'{"a": "\\ud800", "\\udfff": 1}', {"Content-Type": "application/json"}),
    Body("json-nul-keys-and-values", b'{"\\u0000": "\\u0000", "a\\u0000b": 1}', {"Content-Type": "application/json"}),
    Body("json-not-utf8", b'{"a": "' + NOT_UTF8 + b'"}', {"Content-Type": "application/json; charset=utf-8"}),
    Body(
        "json-ten-mib-one-line",
        b'{"a": "' + b"x" * (10 * 1024 * 1024 - 20) + b'"}',
        {"Content-Type": "application/json"},
    ),
    Body("gzip-bomb-10mb", bomb(10, 31), {"Content-Encoding": "gzip", "Content-Type": "application/json"}),
    Body(
        "gzip-bomb-200mb",
        bomb(200, 31),
        {"Content-Encoding": "gzip", "Content-Type": "text/plain"},
        max_page_bytes=8 * 1024 * 1024,
    ),
    Body("deflate-bomb-10mb", bomb(10, 15), {"Content-Encoding": "deflate", "Content-Type": "text/plain"}),
    Body("raw-deflate-bomb", bomb(10, -15), {"Content-Encoding": "deflate"}),
    Body("gzip-of-gzip", gzip.compress(gzip.compress(b"x" * 100_000)), {"Content-Encoding": "gzip, gzip"}),
    Body("gzip-corrupt", gzip.compress(b"hello world" * 100)[:40] + b"\xff" * 40, {"Content-Encoding": "gzip"}),
    Body("unknown-encoding", b"\x00\x01garbage", {"Content-Encoding": "br, zstd, x-unknown"}),
    Body("multipart-10k-parts", multipart(10_000), {"Content-Type": "multipart/form-data; boundary=b0undary"}),
    Body("multipart-no-boundary", multipart(3), {"Content-Type": "multipart/form-data"}),
    Body("multipart-boundary-absent", multipart(3), {"Content-Type": "multipart/form-data; boundary=other"}),
    Body(
        "multipart-huge-boundary",
        multipart(3, "b" * 5000),
        {"Content-Type": "multipart/form-data; boundary=" + "b" * 5000},
    ),
    Body(
        "multipart-unterminated",
        b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n' + b"v" * 100_000,
        {"Content-Type": "multipart/form-data; boundary=b"},
    ),
    Body("form-100k-fields", b"a=1&" * 100_000, {"Content-Type": "application/x-www-form-urlencoded"}),
    Body("form-bad-escapes", b"%zz=%ff&%=%%&a=" + NOT_UTF8, {"Content-Type": "application/x-www-form-urlencoded"}),
    Body("xml-billion-laughs", BILLION_LAUGHS, {"Content-Type": "application/xml"}, check=never_shows("lol" * 1000)),
    Body("xml-external-entity", XXE, {"Content-Type": "application/xml"}, check=never_shows("root:x:0:0")),
    Body("text-not-utf8", NOT_UTF8, {"Content-Type": "text/plain"}),
    Body("binary-all-bytes", bytes(range(256)) * 64, {"Content-Type": "application/octet-stream"}),
    Body("content-type-garbage", b"x", {"Content-Type": ';;;=;charset="\\'}),
    *[Body(f"charset-{name[:20]}", NOT_UTF8, {"Content-Type": f"text/plain; charset={name}"}) for name in CHARSETS],
    Body("json-charset-rot13", b'{"a": 1}', {"Content-Type": "application/json; charset=rot13"}),
    Body("form-charset-base64", b"a=1", {"Content-Type": "application/x-www-form-urlencoded; charset=base64_codec"}),
]


def _page_urls(bin_id: str, rid: int) -> list[tuple[str, dict[str, str]]]:
    """Every page and fragment that shows the capture `rid`, with the headers to ask for it."""
    htmx = {"HX-Request": "true"}
    return [
        (f"/bins/{bin_id}", {}),
        (f"/bins/{bin_id}?request={rid}", {}),
        (f"/bins/{bin_id}/requests/{rid}", htmx),
        (f"/bins/{bin_id}/requests/{rid}/signature", htmx),
        (f"/bins/{bin_id}/list", htmx),
        (f"/bins/{bin_id}/requests", htmx),
        (f"/bins/{bin_id}/facets", htmx),
    ]


def read_everything(client: httpx.Client, bin_id: str, rid: int) -> tuple[dict, list[str]]:
    """GET every API reader and page of capture `rid` (each must answer 200); returns the
    Request JSON and the pages' HTML."""
    for path in (
        f"/api/bins/{bin_id}/requests",
        f"/api/bins/{bin_id}/requests/{rid}?at=now",
        f"/api/bins/{bin_id}/stats",
        f"/api/bins/{bin_id}/requests/{rid}/deliveries",
    ):
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    pages = []
    for path, headers in _page_urls(bin_id, rid):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        pages.append(response.text)
    detail = client.get(f"/api/bins/{bin_id}/requests/{rid}")
    assert detail.status_code == 200, detail.text[:300]
    return detail.json(), pages


def analysed(client: httpx.Client, bin_id: str, rid: int, within: float = 10.0) -> dict:
    """The capture once its analysis is stored (hostile bodies must not stall the analyser)."""
    deadline = time.monotonic() + within
    while True:
        got = client.get(f"/api/bins/{bin_id}/requests/{rid}").json()
        if got["analysed"] or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.mark.parametrize("case", BODY_CASES, ids=lambda case: case.id)
def test_hostile_body(case: Body, client, survival, bins):
    with survival.around():
        body = case.body() if callable(case.body) else case.body
        before = request_count(client, BODY_BIN)
        answer = client.post(f"/h/{BODY_BIN}", content=body, headers=case.headers, timeout=60)
        assert answer.status_code == 200, answer.text[:300]
        assert request_count(client, BODY_BIN) == before + 1
        rid = newest_capture(client, BODY_BIN)["id"]
        raw = client.get(f"/api/bins/{BODY_BIN}/requests/{rid}/raw")
        assert raw.status_code == 200 and raw.content == body, "stored body is not byte-exact"
        stored, pages = read_everything(client, BODY_BIN, rid)
        assert stored["body_size"] == len(body)
        assert analysed(client, BODY_BIN, rid)["analysed"], "the capture was never analysed"
        if case.max_page_bytes is not None:
            assert max(len(html) for html in pages) <= case.max_page_bytes, "a page expanded the body"
        if case.check is not None:
            case.check(stored, pages)


# Stored XSS: whatever a capture carries appears in pages only escaped, never as markup and
# never inside an attribute.
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "'><svg/onload=alert(1)>"
JS_URL = "javascript:alert(document.domain)"


@dataclass(frozen=True)
class Xss:
    """A capture sent raw (`request`) carrying `payloads`; pages must show them only escaped."""

    id: str
    request: bytes
    payloads: tuple[str, ...]


def xss_post(*headers: str, path: str = "", body: bytes = b"") -> bytes:
    return request_bytes(f"POST /h/{BODY_BIN}{path} HTTP/1.1", [*headers, f"Content-Length: {len(body)}"], body)


XSS_CASES = [
    Xss("header-values", xss_post(f"X-Evil: {SCRIPT}", f"User-Agent: {IMG}", f"X-Svg: {SVG}"), (SCRIPT, IMG, SVG)),
    Xss("header-javascript-url", xss_post(f"Referer: {JS_URL}", f"X-Link: {JS_URL}", f"Location: {JS_URL}"), (JS_URL,)),
    Xss("content-type", xss_post(f"Content-Type: text/html{IMG}", body=b"x"), (IMG,)),
    Xss(
        "raw-path",
        xss_post(path='/<script>alert(1)</script>/"><img/src=x/onerror=alert(1)>'),
        (SCRIPT, '"><img/src=x/onerror=alert(1)>'),
    ),
    Xss(
        "raw-query",
        request_bytes(f'GET /h/{BODY_BIN}?q=<script>alert(1)</script>&"><svg/onload=alert(1)>=1 HTTP/1.1'),
        (SCRIPT, '"><svg/onload=alert(1)>'),
    ),
    Xss(
        "html-body",
        xss_post("Content-Type: text/html", body=f"{SCRIPT}</textarea></pre>{IMG}".encode()),
        (f"{SCRIPT}</textarea></pre>{IMG}",),
    ),
    Xss(
        "json-keys-and-values",
        xss_post(
            "Content-Type: application/json", body=json.dumps({SCRIPT: IMG, JS_URL: SVG}, ensure_ascii=False).encode()
        ),
        (SCRIPT, IMG, SVG),
    ),
    Xss(
        "form-fields",
        xss_post("Content-Type: application/x-www-form-urlencoded", body=f"{SCRIPT}={IMG}".encode()),
        (SCRIPT, IMG),
    ),
    Xss(
        "multipart-names",
        xss_post(
            "Content-Type: multipart/form-data; boundary=xb",
            body=f'--xb\r\nContent-Disposition: form-data; name="{SCRIPT}"; filename="{SVG}"\r\nContent-Type: text/html\r\n\r\n{IMG}\r\n--xb--\r\n'.encode(),
        ),
        (SCRIPT, SVG, IMG),
    ),
    Xss("github-event-badge", xss_post(f"X-GitHub-Event: {SCRIPT}", "X-GitHub-Delivery: d1", body=b"{}"), (SCRIPT,)),
    Xss(
        "slack-event-badge",
        xss_post(
            "X-Slack-Request-Timestamp: 1700000000",
            "X-Slack-Signature: v0=00",
            "Content-Type: application/json",
            body=json.dumps({"type": "event_callback", "event": {"type": SCRIPT}}).encode(),
        ),
        (SCRIPT,),
    ),
]
ATTRIBUTE_JS = re.compile(r"""(?:href|src|action|formaction|data|xlink:href)\s*=\s*["']?\s*javascript:""", re.I)


@pytest.mark.parametrize("case", XSS_CASES, ids=lambda case: case.id)
def test_stored_xss_is_escaped(case: Xss, server, client, survival, bins):
    with survival.around():
        got = exchange(server.port, case.request)
        assert got.statuses == [200], got.describe()
        rid = json.loads(got.answers[0].body)["request_id"]
        analysed(client, BODY_BIN, rid)
        _stored, pages = read_everything(client, BODY_BIN, rid)
        markup = [payload for payload in case.payloads if payload != JS_URL]
        for html in pages:
            assert not ATTRIBUTE_JS.search(html), "a javascript: URL reached an attribute"
            for payload in markup:
                assert payload not in html, f"unescaped {payload!r} in a page"
        for html in pages[1:3]:  # the page with the capture open, and the detail fragment
            for payload in markup:
                assert str(escape(payload)) in html, f"{payload!r} is not shown (escaped)"


def test_handshake_challenge_is_never_served_as_html(server, client, survival, bins):
    """A Meta/Slack challenge is echoed, but only as text/plain or JSON, sandboxed."""
    with survival.around():
        query = f"hub.mode=subscribe&hub.verify_token=t&hub.challenge={SCRIPT}"
        got = exchange(server.port, request_bytes(f"GET /h/{BODY_BIN}?{query} HTTP/1.1"))
        assert got.statuses == [200], got.describe()
        answer = got.answers[0]
        assert "html" not in (answer.header("Content-Type") or "").lower()
        assert answer.header("X-Content-Type-Options") == "nosniff"
        assert "sandbox" in (answer.header("Content-Security-Policy") or "")


# --- 3. API abuse -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One API or page call. `path` may hold {bin}, {rid} and {big}; `json` is sent as JSON
    text (NaN and huge numbers allowed), `content` as raw bytes with Content-Type JSON unless
    `headers` say otherwise. The answer must be one of `expect`."""

    id: str
    method: str
    path: str
    json: Any = UNSET
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: frozenset[int] = frozenset({400})


def call(case_id: str, method: str, path: str, *expect: int, **options: Any) -> Call:
    return Call(case_id, method, path, expect=frozenset(expect or (400,)), **options)


def send(client: httpx.Client, case: Call, bins: dict[str, Any], *, bin_id: str = API_BIN) -> httpx.Response:
    """Make the call `case` describes against `bin_id`."""
    path = case.path.format(bin=bin_id, rid=bins["api_rid"], big=BIG)
    headers = dict(case.headers)
    content = case.content
    if case.json is not UNSET:
        content = json.dumps(case.json).encode()
    if content is not None:
        headers.setdefault("Content-Type", "application/json")
    return client.request(case.method, path, content=content, headers=headers, timeout=30)


NUMERIC_CASES = [
    call("detail-arabic-indic-digits", "GET", "/api/bins/{bin}/requests/١٢", 404),
    call("detail-over-2**64", "GET", "/api/bins/{bin}/requests/{big}", 404),
    call("detail-2**63", "GET", "/api/bins/{bin}/requests/9223372036854775808", 404),
    call("detail-negative", "GET", "/api/bins/{bin}/requests/-1", 404),
    call("raw-over-2**64", "GET", "/api/bins/{bin}/requests/{big}/raw", 404),
    call("raw-arabic-indic-digits", "GET", "/api/bins/{bin}/requests/١٢/raw", 404),
    call("deliveries-over-2**64", "GET", "/api/bins/{bin}/requests/{big}/deliveries", 404),
    call(
        "replay-over-2**64", "POST", "/api/bins/{bin}/requests/{big}/replay", 404, json={"url": "http://127.0.0.1:9/"}
    ),
    call("delete-request-over-2**64", "DELETE", "/api/bins/{bin}/requests/{big}", 404),
    call("delete-secret-over-2**64", "DELETE", "/api/bins/{bin}/secrets/{big}", 404),
    call("limit-arabic-indic-digits", "GET", "/api/bins/{bin}/requests?limit=١٢", 200, 400),
    call("limit-over-2**64", "GET", "/api/bins/{bin}/requests?limit={big}", 400),
    call("limit-negative", "GET", "/api/bins/{bin}/requests?limit=-5", 400),
    call("limit-zero", "GET", "/api/bins/{bin}/requests?limit=0", 400),
    call("limit-fraction", "GET", "/api/bins/{bin}/requests?limit=1.5", 400),
    call("limit-nul", "GET", "/api/bins/{bin}/requests?limit=%00", 400),
    call("before-over-2**64", "GET", "/api/bins/{bin}/requests?before={big}", 200, 400),
    call("after-over-2**64", "GET", "/api/bins/{bin}/requests?after={big}", 200, 400),
    call("before-negative", "GET", "/api/bins/{bin}/requests?before=-1", 400),
    call("before-superscript", "GET", "/api/bins/{bin}/requests?before=%C2%B2", 200, 400),
    call("q-nul", "GET", "/api/bins/{bin}/requests?q=%00", 200, 400),
    call("q-like-wildcards", "GET", "/api/bins/{bin}/requests?q=%25_%5C", 200),
    call("q-7k-chars", "GET", "/api/bins/{bin}/requests?q=" + "a" * 7_000, 200, 400),
    call("provider-nul", "GET", "/api/bins/{bin}/requests?provider=%00&event=%00", 200, 400),
    call("verdict-unknown", "GET", "/api/bins/{bin}/requests?verdict=%00", 400),
    call("page-request-over-2**64", "GET", "/bins/{bin}?request={big}", 200, 404),
    call("page-before-over-2**64", "GET", "/bins/{bin}?before={big}", 200, 400),
    call("page-rows-before-over-2**64", "GET", "/bins/{bin}/requests?before={big}", 200, 400),
    call("page-detail-over-2**64", "GET", "/bins/{bin}/requests/{big}", 404, headers={"HX-Request": "true"}),
    call("page-compare-over-2**64", "GET", "/bins/{bin}/requests/{rid}/compare?a={big}&b={big}", 200, 400, 404),
    call("page-facets-generation-over-2**64", "GET", "/bins/{bin}/facets?list_generation={big}", 200, 400),
    call("page-signature-over-2**64", "GET", "/bins/{bin}/requests/{big}/signature", 404),
]


@pytest.mark.parametrize("case", NUMERIC_CASES, ids=lambda case: case.id)
def test_numeric_arguments(case: Call, client, survival, bins):
    with survival.around():
        response = send(client, case, bins)
        assert response.status_code in case.expect, f"{response.status_code} {response.text[:300]}"


@dataclass(frozen=True)
class Stream:
    """An event stream opened with hostile resume arguments: it must be refused (4xx) or
    stay open, never crash after its first bytes."""

    id: str
    path: str
    headers: dict[str, str | bytes] = field(default_factory=dict)


STREAM_CASES = [
    Stream("api-last-event-id-over-2**64", "/api/bins/{bin}/events", {"Last-Event-ID": BIG}),
    Stream("api-last-event-id-2**63", "/api/bins/{bin}/events", {"Last-Event-ID": "9223372036854775808"}),
    Stream("api-last-event-id-arabic-indic", "/api/bins/{bin}/events", {"Last-Event-ID": "١٢".encode()}),
    Stream("api-last-event-id-negative", "/api/bins/{bin}/events", {"Last-Event-ID": "-5"}),
    Stream("api-last-event-id-garbage", "/api/bins/{bin}/events", {"Last-Event-ID": "abc\x7f"}),
    Stream("api-after-over-2**64", "/api/bins/{bin}/events?after=" + BIG),
    Stream("page-last-event-id-over-2**64", "/bins/{bin}/stream", {"Last-Event-ID": BIG}),
    Stream("page-after-over-2**64", "/bins/{bin}/stream?after=" + BIG),
]


def hold_stream(
    client: httpx.Client, path: str, headers: dict[str, str | bytes], hold: float = 0.6
) -> tuple[int, bool]:
    """Open an event stream and read it for `hold` s: (status, ended early)."""
    timeout = httpx.Timeout(10, read=hold)
    try:
        with client.stream("GET", path, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                return response.status_code, False
            deadline = time.monotonic() + hold
            for _ in response.iter_raw():
                if time.monotonic() > deadline:
                    return 200, False
            return 200, True
    except httpx.ReadTimeout:
        return 200, False
    except httpx.RemoteProtocolError:
        return 200, True


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda case: case.id)
def test_event_stream_resume_arguments(case: Stream, client, survival, bins):
    with survival.around():
        status, ended = hold_stream(client, case.path.format(bin=API_BIN), case.headers)
        assert status == 200 or 400 <= status < 500, status
        assert not ended, "the stream broke off right after it started"


DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
BAD_JSON_BODIES = {
    "deep-array": DEEP_ARRAY,
    "deep-object": DEEP_OBJECT,
    "deep-unclosed": b"[" * 100_000,
    "deep-inside-field": b'{"name": ' + DEEP_ARRAY + b"}",
    "truncated": b'{"name":',
    "trailing-comma": b'{"name": "abc",}',
    "trailing-garbage": b'{"name": "abc"} x',
    "not-utf8": b'{"name": "\xff\xfe"}',
    "array": b"[]",
    "string": b'"abc"',
    "null": b"null",
    "number": b"1",
    "nan-field": b'{"name": NaN}',
    "huge-int-field": b'{"name": ' + b"9" * 5000 + b"}",
    "lone-surrogate-field": b'{"name": "\\ud800"}',
}
JSON_ENDPOINTS = {
    "create": ("POST", "/api/bins"),
    "patch": ("PATCH", "/api/bins/{bin}"),
    "secret": ("POST", "/api/bins/{bin}/secrets"),
    "replay": ("POST", "/api/bins/{bin}/requests/{rid}/replay"),
}
MALFORMED_CASES = [
    call(f"{endpoint}-{kind}", method, path, content=body)
    for kind, body in BAD_JSON_BODIES.items()
    for endpoint, (method, path) in JSON_ENDPOINTS.items()
    if endpoint in ("create", "patch") or kind.startswith(("deep", "truncated", "array", "null"))
]


@pytest.mark.parametrize("case", MALFORMED_CASES, ids=lambda case: case.id)
def test_malformed_json_bodies(case: Call, client, survival, bins):
    with survival.around():
        before = client.get(f"/api/bins/{API_BIN}").json()
        response = send(client, case, bins)
        assert response.status_code in case.expect, f"{response.status_code} {response.text[:300]}"
        assert "error" in response.json()
        after = client.get(f"/api/bins/{API_BIN}").json()
        assert {k: after[k] for k in after if k != "request_count"} == {
            k: before[k] for k in before if k != "request_count"
        }, "a refused call changed the bin"


def patch(case_id: str, body: Any, *expect: int) -> Call:
    return call(case_id, "PATCH", "/api/bins/{bin}", *expect, json=body)


LATIN1_OK = frozenset({200, 400})
PATCH_CASES = [
    patch("response-string", {"response": "x"}),
    patch("response-list", {"response": []}),
    patch("response-null", {"response": None}),
    patch("response-unknown-field", {"response": {"colour": "red"}}),
    patch("status-string", {"response": {"status": "200"}}),
    patch("status-float", {"response": {"status": 200.5}}),
    patch("status-bool", {"response": {"status": True}}),
    patch("status-199", {"response": {"status": 199}}),
    patch("status-600", {"response": {"status": 600}}),
    patch("status-over-2**64", {"response": {"status": 2**65}}),
    patch("status-nan", {"response": {"status": float("nan")}}),
    patch("headers-string", {"response": {"headers": "X-A: b"}}),
    patch("headers-pair-too-short", {"response": {"headers": [["X-A"]]}}),
    patch("headers-pair-too-long", {"response": {"headers": [["X-A", "b", "c"]]}}),
    patch("headers-int-value", {"response": {"headers": [["X-A", 1]]}}),
    patch("headers-object-int-value", {"response": {"headers": {"X-A": 1}}}),
    patch("headers-51", {"response": {"headers": [[f"X-H{i}", "v"] for i in range(51)]}}),
    patch("body-int", {"response": {"body": 1}}),
    patch("body-list", {"response": {"body": ["x"]}}),
    patch("body-nul", {"response": {"body": "a\u0000b"}}),
    patch("body-over-1mib", {"response": {"body": "x" * (1024 * 1024 + 1)}}),
    patch("delay-negative", {"response": {"delay_ms": -1}}),
    patch("delay-over-30s", {"response": {"delay_ms": 30_001}}),
    patch("delay-string", {"response": {"delay_ms": "5"}}),
    patch("delay-float", {"response": {"delay_ms": 1.5}}),
    patch("delay-over-2**64", {"response": {"delay_ms": 2**65}}),
    patch("delay-bool", {"response": {"delay_ms": True}}),
    patch("forward-string", {"forward": "http://127.0.0.1:9/"}),
    patch("forward-list", {"forward": []}),
    patch("forward-url-int", {"forward": {"url": 1}}),
    patch("forward-no-url", {"forward": {"enabled": True}}),
    patch("forward-enabled-string", {"forward": {"url": "http://127.0.0.1:9/", "enabled": "yes"}}),
    patch("forward-url-nul", {"forward": {"url": "http://127.0.0.1:9/\u0000"}}),
    patch("max-requests-zero", {"max_requests": 0}),
    patch("max-requests-negative", {"max_requests": -1}),
    patch("max-requests-over-ceiling", {"max_requests": 100_001}),
    patch("max-requests-over-2**64", {"max_requests": 2**65}),
    patch("max-requests-string", {"max_requests": "5"}),
    patch("max-requests-float", {"max_requests": 1.5}),
    patch("max-requests-null", {"max_requests": None}),
    patch("handshakes-string", {"handshakes": "true"}),
    patch("handshakes-int", {"handshakes": 1}),
    patch("public-base-int", {"public_base_url": 1}),
    patch("public-base-nul", {"public_base_url": "http://a\u0000b.example"}),
    patch("name-not-patchable", {"name": "other-name"}),
    patch("unknown-field", {"colour": "red"}),
    # response headers the server could never send
    patch("header-value-crlf", {"response": {"headers": [["X-A", "a\r\nSet-Cookie: x=1"]]}}),
    patch("header-value-lf", {"response": {"headers": [["X-A", "a\nb"]]}}),
    patch("header-value-nul", {"response": {"headers": [["X-A", "a\u0000b"]]}}),
    patch("header-value-non-latin-1", {"response": {"headers": [["X-A", "€ snowman ☃"]]}}),
    patch("header-value-ctl", {"response": {"headers": [["X-A", "a\u0001b"]]}}),
    patch("header-value-del", {"response": {"headers": [["X-A", "a\u007fb"]]}}),
    patch("header-name-space", {"response": {"headers": [["X A", "b"]]}}),
    patch("header-name-empty", {"response": {"headers": [["", "b"]]}}),
    patch("header-name-colon", {"response": {"headers": [["X:A", "b"]]}}),
    patch("header-name-nul", {"response": {"headers": [["X-A\u0000", "b"]]}}),
    patch("header-name-non-ascii", {"response": {"headers": [["X-Ünï", "b"]]}}),
    patch("header-content-length", {"response": {"headers": [["Content-Length", "0"]]}}),
    patch("header-content-length-lowercase", {"response": {"headers": [["content-length", "99"]]}}),
    patch("header-transfer-encoding", {"response": {"headers": [["Transfer-Encoding", "chunked"]]}}),
    patch("header-connection", {"response": {"headers": [["Connection", "close"]]}}),
    patch("header-object-crlf", {"response": {"headers": {"X-A": "a\r\nb"}}}),
    # legal but unusual: accepted or refused, and captures keep answering either way
    patch("header-value-latin-1", {"response": {"headers": [["X-A", "caf\u00e9"]]}}, 200, 400),
    patch("header-value-8k", {"response": {"headers": [["X-A", "v" * 8192]]}}, 200, 400),
    patch("content-type-non-latin-1", {"response": {"headers": [["Content-Type", "text/plain; x=☃"]]}}),
]


@pytest.mark.parametrize("case", PATCH_CASES, ids=lambda case: case.id)
def test_patch_bin_refuses_bad_settings(case: Call, client, survival, bins):
    with survival.around():
        before = client.get(f"/api/bins/{API_BIN}").json()
        try:
            response = send(client, case, bins)
            assert response.status_code in case.expect, f"{response.status_code} {response.text[:300]}"
            if response.status_code >= 400:
                after = client.get(f"/api/bins/{API_BIN}").json()
                assert after["response"] == before["response"] and after["forward"] == before["forward"]
                assert after["max_requests"] == before["max_requests"], "a refused PATCH changed the bin"
            captured = client.post(f"/h/{API_BIN}/after-patch", content=b"x", timeout=5)
            assert 200 <= captured.status_code < 300, f"capture after the PATCH answered {captured.status_code}"
        finally:
            reset_bin(client, API_BIN)


def reset_bin(client: httpx.Client, bin_id: str) -> None:
    """Put the bin's settings back to the defaults (a case that wrongly succeeded changes them)."""
    defaults = {
        "response": {"status": 200, "headers": [], "delay_ms": 0},
        "forward": None,
        "max_requests": 1000,
        "handshakes": True,
        "public_base_url": None,
    }
    assert client.patch(f"/api/bins/{bin_id}", json=defaults).status_code == 200


BODILESS_CASES = [
    ("status-204-with-body", {"status": 204, "body": "not allowed on a 204"}, 204),
    ("status-304-with-body", {"status": 304, "body": "not allowed on a 304"}, 304),
    ("status-204-with-headers", {"status": 204, "headers": [["X-A", "b"]]}, 204),
]


@pytest.mark.parametrize(("case_id", "response", "expected"), BODILESS_CASES, ids=[case[0] for case in BODILESS_CASES])
def test_bodiless_statuses_still_answer_cleanly(case_id, response, expected, server, client, survival, bins):
    """A configured status that forbids a body: refused at PATCH, or answered without one."""
    with survival.around():
        try:
            patched = client.patch(f"/api/bins/{API_BIN}", json={"response": response})
            assert patched.status_code in (200, 400), patched.text
            status = expected if patched.status_code == 200 else 200
            head = request_bytes(f"POST /h/{API_BIN} HTTP/1.1", ["Content-Length: 0"], close=False)
            got = exchange(server.port, head + request_bytes(f"POST /h/{API_BIN} HTTP/1.1", ["Content-Length: 0"]))
            assert got.statuses == [status, status], f"{case_id}: {got.describe()}"
            assert got.leftover == b"", "the answer carried bytes past its framing"
        finally:
            reset_bin(client, API_BIN)


def secret(case_id: str, body: Any, *expect: int) -> Call:
    return call(case_id, "POST", "/api/bins/{bin}/secrets", *expect, json=body)


SECRET_CASES = [
    secret("value-over-4096", {"label": "l", "value": "v" * 4097}),
    secret("value-one-mib", {"label": "l", "value": "v" * 1024 * 1024}, 400, 413),
    secret("value-empty", {"label": "l", "value": ""}),
    secret("value-int", {"label": "l", "value": 1}),
    secret("value-nul", {"label": "l", "value": "a\u0000b"}),
    secret("label-over-100", {"label": "l" * 101, "value": "v"}),
    secret("label-blank", {"label": "   ", "value": "v"}),
    secret("label-nul", {"label": "a\u0000b", "value": "v"}),
    secret("label-list", {"label": ["l"], "value": "v"}),
    secret("provider-unknown", {"label": "l", "value": "v", "provider": "nope"}),
    secret("provider-int", {"label": "l", "value": "v", "provider": 5}),
    secret("provider-nul", {"label": "l", "value": "v", "provider": "github\u0000"}),
]


def replay(case_id: str, body: Any, *expect: int) -> Call:
    return call(case_id, "POST", "/api/bins/{bin}/requests/{rid}/replay", *expect, json=body)


CLOSED = "http://127.0.0.1:9/"  # the discard port: nothing listens, a connection is refused at once
REPLAY_CASES = [
    replay("url-missing", {}),
    replay("url-int", {"url": 5}),
    replay("url-nul", {"url": "http://127.0.0.1:9/\u0000"}),
    replay("method-space", {"url": CLOSED, "method": "GE T"}),
    replay("method-nul", {"url": CLOSED, "method": "GET\u0000"}),
    replay("method-too-long", {"url": CLOSED, "method": "A" * 33}),
    replay("method-int", {"url": CLOSED, "method": 1}),
    replay("headers-string", {"url": CLOSED, "headers": "X-A: b"}),
    replay("headers-nul", {"url": CLOSED, "headers": [["X-A\u0000", "b"]]}),
    replay("headers-crlf", {"url": CLOSED, "headers": [["X-A", "a\r\nb"]]}),
    replay("headers-name-space", {"url": CLOSED, "headers": [["X A", "b"]]}),
    replay("headers-non-latin-1", {"url": CLOSED, "headers": [["X-A", "€"]]}),
    replay("headers-int", {"url": CLOSED, "headers": [["X-A", 1]]}),
    replay("body-not-base64", {"url": CLOSED, "body_base64": "!!!"}),
    replay("body-int", {"url": CLOSED, "body_base64": 5}),
    replay("resign-string", {"url": CLOSED, "resign": "yes"}),
]
BAD_URLS = {
    "port-99999": "http://127.0.0.1:99999/",
    "port-65536": "http://127.0.0.1:65536/",
    "port-negative": "http://127.0.0.1:-1/",
    "port-letters": "http://127.0.0.1:abc/",
    "unclosed-ipv6": "http://[::1",
    "ftp": "ftp://127.0.0.1/",
    "javascript": "javascript:alert(1)",
    "no-host": "http://",
    "credentials": "http://user:pw@127.0.0.1:9/",
    "space-in-host": "http://exa mple.com/",
    "scheme-relative": "//127.0.0.1:9/",
    "over-2048-chars": "http://127.0.0.1:9/" + "a" * 3000,
}
URL_CASES = [
    call(f"{where}-{kind}", method, path, json=wrap(url))
    for kind, url in BAD_URLS.items()
    for where, method, path, wrap in (
        ("forward", "PATCH", "/api/bins/{bin}", lambda u: {"forward": {"url": u, "enabled": True}}),
        ("replay", "POST", "/api/bins/{bin}/requests/{rid}/replay", lambda u: {"url": u}),
        ("public-base", "PATCH", "/api/bins/{bin}", lambda u: {"public_base_url": u}),
    )
]


@pytest.mark.parametrize("case", SECRET_CASES + REPLAY_CASES + URL_CASES, ids=lambda case: case.id)
def test_api_refuses_bad_fields(case: Call, client, survival, bins):
    with survival.around():
        try:
            response = send(client, case, bins)
            assert response.status_code in case.expect, f"{response.status_code} {response.text[:300]}"
            assert "error" in response.json()
        finally:
            reset_bin(client, API_BIN)


@pytest.mark.parametrize(
    "create_json",
    [{"name": "a\u0000bc"}, {"name": "ABC"}, {"name": "api"}, {"name": 5}, {"name": ["abc"]}, {"name": "x" * 64}],
    ids=["name-nul", "name-uppercase", "name-reserved", "name-int", "name-list", "name-too-long"],
)
def test_create_bin_refuses_bad_names(create_json, client, survival, bins):
    with survival.around():
        response = client.post("/api/bins", json=create_json)
        assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/bins"),
        ("PATCH", f"/api/bins/{API_BIN}"),
        ("POST", f"/api/bins/{API_BIN}/secrets"),
        ("POST", f"/api/bins/{REPLAY_BIN}/requests/{{rid}}/replay"),
    ],
    ids=["create", "patch", "secret", "replay"],
)
def test_huge_declared_api_body_is_413_before_it_is_sent(method, path, server, survival, bins):
    with survival.around():
        head = ["Content-Type: application/json", "Content-Length: 1073741824"]
        path = path.format(rid=bins["replay_rid"])
        got = exchange(server.port, request_bytes(f"{method} {path} HTTP/1.1", head) + b'{"name": "', answers=1)
        assert got.statuses == [413], got.describe()
        assert got.first_byte_after is not None and got.first_byte_after < 2.5, "no early answer"


def test_huge_chunked_api_body_is_413(server, survival, bins):
    """No length announced: the server stops reading at its limit and answers 413."""
    with survival.around():
        head = request_bytes(
            "POST /api/bins HTTP/1.1", ["Content-Type: application/json", "Transfer-Encoding: chunked"]
        )
        piece = b"a" * 1024 * 1024  # 32 MiB of one JSON string, twice the API's 16 MiB limit
        framed = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 32
        opening, closing = chunked(b'{"name": "')[:-5], chunked(b'"}')
        got = exchange(server.port, head, opening, *framed, closing, timeout=20, answers=1)
        assert got.statuses == [413], got.describe()


# --- 4. cross-site writes ---------------------------------------------------------------------


EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


CROSS_SITE_CREATES = [
    ("form-urlencoded-empty", b"", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("form-urlencoded-name", b"name=xsite-form", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("text-plain-json", b'{"name": "xsite-text"}', {"Content-Type": "text/plain"}),
    (
        "multipart",
        b"--b\r\nContent-Disposition: form-data; name=name\r\n\r\nxsite-multi\r\n--b--\r\n",
        {"Content-Type": "multipart/form-data; boundary=b"},
    ),
    (
        "evil-origin-json",
        b'{"name": "xsite-origin"}',
        {"Content-Type": "application/json", "Origin": "https://evil.example"},
    ),
    (
        "sec-fetch-cross-site-json",
        b'{"name": "xsite-fetch"}',
        {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
    ),
    ("null-origin-json", b'{"name": "xsite-null"}', {"Content-Type": "application/json", "Origin": "null"}),
    ("text-plain-empty", b"", {"Content-Type": "text/plain"}),
]


@pytest.mark.parametrize(
    ("case_id", "content", "headers"), CROSS_SITE_CREATES, ids=[case[0] for case in CROSS_SITE_CREATES]
)
def test_cross_site_create_is_refused(case_id, content, headers, client, survival, bins):
    with survival.around():
        response = client.post("/api/bins", content=content, headers=headers)
        assert response.status_code in (403, 415), f"{case_id}: {response.status_code} {response.text[:200]}"
        named = re.search(rb"xsite-[a-z]+", content)
        if named:
            assert client.get(f"/api/bins/{named.group().decode()}").status_code == 404, "the bin was created"


CROSS_SITE_WRITES = [
    ("patch", "PATCH", "/api/bins/{bin}", {"response": {"status": 418}}),
    ("delete-bin", "DELETE", "/api/bins/{bin}", None),
    ("clear-requests", "DELETE", "/api/bins/{bin}/requests", None),
    ("delete-request", "DELETE", "/api/bins/{bin}/requests/{rid}", None),
    ("add-secret", "POST", "/api/bins/{bin}/secrets", {"label": "x", "value": "y"}),
    ("page-create", "POST", "/bins", None),
    ("page-clear", "DELETE", "/bins/{bin}/requests", None),
]


@pytest.mark.parametrize(
    ("case_id", "method", "path", "body"), CROSS_SITE_WRITES, ids=[case[0] for case in CROSS_SITE_WRITES]
)
def test_cross_site_writes_are_refused(case_id, method, path, body, client, survival, bins):
    with survival.around():
        victim = client.post("/api/bins", json={}).json()["id"]  # a bin of its own: a wrong answer may delete it
        rid = client.post(f"/h/{victim}", content=b"kept").json()["request_id"]
        before = client.get(f"/api/bins/{victim}").json()
        content = json.dumps(body).encode() if body is not None else None
        headers = {**EVIL, "Content-Type": "application/json"} if content else EVIL
        response = client.request(method, path.format(bin=victim, rid=rid), content=content, headers=headers)
        assert response.status_code == 403, f"{case_id}: {response.status_code} {response.text[:200]}"
        after = client.get(f"/api/bins/{victim}")
        assert after.status_code == 200 and after.json() == before, "a refused cross-site write changed the bin"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "{origin}", "Sec-Fetch-Site": "same-origin"},
    ],
    ids=["no-browser-headers", "same-origin", "user-typed", "own-origin"],
)
def test_same_origin_json_create_still_works(headers, server, client, survival, bins):
    with survival.around():
        headers = {name: value.format(origin=server.url) for name, value in headers.items()}
        response = client.post("/api/bins", json={}, headers=headers)
        assert response.status_code == 201, response.text


# --- 5. outbound targets on the deny list -----------------------------------------------------


DENIED_TARGETS = [
    "http://169.254.169.254/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://[fe80::1]/",
    "http://100.100.100.200/",
    "http://[::ffff:100.100.100.200]/",
    "http://[fd00:ec2::254]/",
]


def says_denied(text: str) -> bool:
    return "denied" in text.lower() or "deny" in text.lower()


@pytest.mark.parametrize("target", DENIED_TARGETS)
def test_replay_to_denied_address_is_refused_without_connecting(target, client, survival, bins):
    with survival.around():
        started = time.monotonic()
        response = client.post(f"/api/bins/{REPLAY_BIN}/requests/{bins['replay_rid']}/replay", json={"url": target})
        elapsed = time.monotonic() - started
        assert response.status_code < 500, response.text
        if response.status_code == 201:
            delivery = response.json()
            assert delivery["status_code"] is None, delivery
            assert says_denied(delivery["error"] or ""), delivery["error"]
        else:
            assert 400 <= response.status_code < 500 and says_denied(response.json()["error"]), response.text
        assert elapsed < 3, f"took {elapsed:.1f} s: it tried to connect"


def test_forward_to_denied_address_never_connects(server, client, survival, bins):
    """Refused at PATCH, or accepted and every attempt recorded as denied."""
    with survival.around():
        try:
            target = "http://[::ffff:169.254.169.254]/"
            patched = client.patch(f"/api/bins/{REPLAY_BIN}", json={"forward": {"url": target, "enabled": True}})
            assert patched.status_code in (200, 400), patched.text
            if patched.status_code == 400:
                assert says_denied(patched.json()["error"]), patched.text
                return
            rid = client.post(f"/h/{REPLAY_BIN}/fw", content=b"x").json()["request_id"]
            deadline = time.monotonic() + 8
            deliveries: list[dict] = []
            while not deliveries and time.monotonic() < deadline:
                time.sleep(0.1)
                deliveries = client.get(f"/api/bins/{REPLAY_BIN}/requests/{rid}/deliveries").json()["deliveries"]
            assert deliveries, "no forward attempt was recorded"
            assert all(d["status_code"] is None and says_denied(d["error"] or "") for d in deliveries), deliveries
        finally:
            client.patch(f"/api/bins/{REPLAY_BIN}", json={"forward": None})


# --- 6. the instance password -----------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    # Every wrong credential here comes from 127.0.0.1: the per-address failure limit has its
    # own test (test_auth.py).
    env = {"HOOKLOUPE_PASSWORD": PASSWORD, "HOOKLOUPE_AUTH_FAILURE_LIMIT": "10000 per minute"}
    live = LiveServer(tmp_path_factory.mktemp("hostile-auth"), env=env).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def auth_survival(auth_server):
    checks = Survival(auth_server, make_sentinel(auth_server, "auth-sentinel"))
    yield checks
    checks.client.close()


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


RIGHT = basic(f"u:{PASSWORD}".encode())
AUTH_CASES = [
    ("api-no-auth", "GET", "/api/bins/auth-sentinel", None, 401),
    ("api-wrong-password", "GET", "/api/bins/auth-sentinel", basic(b"u:wrong"), 401),
    ("api-password-prefix", "GET", "/api/bins/auth-sentinel", basic(f"u:{PASSWORD[:-1]}".encode()), 401),
    ("api-password-longer", "GET", "/api/bins/auth-sentinel", basic(f"u:{PASSWORD}x".encode()), 401),
    ("api-empty-basic", "GET", "/api/bins/auth-sentinel", "Basic ", 401),
    ("api-basic-alone", "GET", "/api/bins/auth-sentinel", "Basic", 401),
    ("api-empty-header", "GET", "/api/bins/auth-sentinel", "", 401),
    ("api-bearer-password", "GET", "/api/bins/auth-sentinel", f"Bearer {PASSWORD}", 401),
    ("api-digest", "GET", "/api/bins/auth-sentinel", 'Digest username="u", response="x"', 401),
    ("api-malformed-base64", "GET", "/api/bins/auth-sentinel", "Basic !!!not base64!!!", 401),
    ("api-base64-bad-padding", "GET", "/api/bins/auth-sentinel", "Basic dTpw=x", 401),
    ("api-base64-no-colon", "GET", "/api/bins/auth-sentinel", basic(PASSWORD.encode()), 401),
    ("api-base64-not-utf8", "GET", "/api/bins/auth-sentinel", basic(b"\xff\xfe:\xff" + PASSWORD.encode()), 401),
    ("api-base64-nul", "GET", "/api/bins/auth-sentinel", basic(f"u:{PASSWORD}\x00".encode()), 401),
    ("api-basic-10k", "GET", "/api/bins/auth-sentinel", "Basic " + "A" * 10_000, 401),
    ("api-latin-1-credentials", "GET", "/api/bins/auth-sentinel", "Basic caf\xe9", 401),
    ("api-right-password", "GET", "/api/bins/auth-sentinel", RIGHT, 200),
    ("api-lowercase-scheme", "GET", "/api/bins/auth-sentinel", "basic " + RIGHT[6:], 200),
    ("api-create-no-auth", "POST", "/api/bins", None, 401),
    ("api-events-no-auth", "GET", "/api/bins/auth-sentinel/events", None, 401),
    # A browser without credentials is sent to the sign-in page.
    ("page-home-no-auth", "GET", "/", None, 303),
    ("page-bin-no-auth", "GET", "/bins/auth-sentinel", None, 303),
    ("page-stream-no-auth", "GET", "/bins/auth-sentinel/stream", None, 401),
    ("page-bin-wrong-password", "GET", "/bins/auth-sentinel", basic(b"u:wrong"), 401),
    ("page-bin-right-password", "GET", "/bins/auth-sentinel", RIGHT, 200),
    ("capture-no-auth", "POST", "/h/auth-sentinel/x", None, 200),
    ("capture-malformed-auth-is-captured", "POST", "/h/auth-sentinel/x", "Basic !!!", 200),
    ("healthz-no-auth", "GET", "/healthz", None, 200),
]


@pytest.mark.parametrize(
    ("case_id", "method", "path", "authorization", "expected"), AUTH_CASES, ids=[case[0] for case in AUTH_CASES]
)
def test_instance_password(case_id, method, path, authorization, expected, auth_server, auth_survival):
    """Sent raw, so that header values no client library would send arrive as written."""
    with auth_survival.around():
        headers = ["Content-Type: application/json", "Content-Length: 2"]
        if authorization is not None:
            headers.append(f"Authorization: {authorization}")
        got = exchange(auth_server.port, request_bytes(f"{method} {path} HTTP/1.1", headers, b"{}"), answers=1)
        assert got.statuses == [expected], f"{case_id}: {got.describe()}"
        if expected == 401:
            assert (got.answers[0].header("WWW-Authenticate") or "").startswith("Basic"), "no Basic challenge"
