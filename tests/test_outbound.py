"""Unit tests of outbound sending: URL joining, header filtering, the deny-list, real sends."""

import ipaddress
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from targets import RecordingTarget

from inspector.config import FORWARD_DENY
from inspector.delivery.forward import forward_next, is_own_capture_url, should_retry
from inspector.delivery.outbound import (
    HOP_HEADER,
    TargetRefusedError,
    checked_address,
    forward_headers,
    incoming_hop,
    parse_deny,
    send,
    target_url,
)


@pytest.mark.parametrize(
    "base, path, query, expected",
    [
        ("http://localhost:3000/in", "/github", "x=1", "http://localhost:3000/in/github?x=1"),
        ("http://localhost:3000/in/", "/github", "", "http://localhost:3000/in/github"),
        ("http://localhost:3000", "", "", "http://localhost:3000/"),
        ("http://localhost:3000/in", "", "a=1&a=2", "http://localhost:3000/in?a=1&a=2"),
        ("http://h/in?token=t", "/x", "y=1", "http://h/in/x?token=t&y=1"),
        ("http://h/in", "/", "", "http://h/in/"),
        ("http://h/in", "/a%2Fb", "", "http://h/in/a%2Fb"),
    ],
)
def test_target_url_appends_sub_path_and_query(base, path, query, expected):
    assert target_url(base, path, query) == expected


def test_forward_headers_drop_hop_by_hop_and_add_hop():
    captured = [
        ["Host", "hooks.example"],
        ["Content-Length", "3"],
        ["Connection", "keep-alive, X-Private"],
        ["X-Private", "p"],
        ["Transfer-Encoding", "chunked"],
        ["X-Sig", "a"],
        ["X-Sig", "b"],
        ["Content-Type", "application/json"],
    ]
    assert forward_headers(captured, 1) == [
        ("X-Sig", "a"),
        ("X-Sig", "b"),
        ("Content-Type", "application/json"),
        (HOP_HEADER, "1"),
    ]


def test_forward_headers_replace_an_incoming_hop_header():
    assert forward_headers([[HOP_HEADER, "1"]], 2) == [(HOP_HEADER, "2")]


def test_incoming_hop():
    assert incoming_hop([["X-Other", "1"]]) == 0
    assert incoming_hop([["x-hookloupe-hop", "3"]]) == 3
    assert incoming_hop([["X-Hookloupe-Hop", "junk"]]) == 1


def test_default_deny_covers_metadata_but_not_loopback_or_private():
    deny = parse_deny(FORWARD_DENY)

    def denied(ip):
        return any(ipaddress.ip_address(ip) in n for n in deny if n.version == ipaddress.ip_address(ip).version)

    assert denied("169.254.169.254") and denied("fe80::1") and denied("100.100.100.200")
    assert not denied("127.0.0.1") and not denied("10.0.0.5") and not denied("192.168.1.2")


def test_parse_deny_rejects_garbage():
    with pytest.raises(ValueError):
        parse_deny("10.0.0.0/8,not-a-network")


def test_checked_address_refuses_when_any_resolved_address_is_denied():
    deny = parse_deny("169.254.0.0/16")
    resolve = lambda host, port: ["93.184.216.34", "169.254.169.254"]  # noqa: E731
    with pytest.raises(TargetRefusedError, match=r"169\.254\.169\.254"):
        checked_address("http://rebind.test/", deny, resolve)


def test_checked_address_returns_the_address_it_checked():
    assert checked_address("http://x.test:81/", parse_deny("169.254.0.0/16"), lambda h, p: ["127.0.0.1"]) == "127.0.0.1"


def test_send_connects_to_the_checked_address_keeping_the_host_header():
    target = RecordingTarget().start()
    try:
        # The name only resolves through our resolver: the connection must use its answer.
        attempt = send(
            "POST",
            f"http://hooks.internal.test:{target.port}/in?x=1",
            [("X-A", "1")],
            b"\x00body",
            timeout=5,
            resolve=lambda host, port: ["127.0.0.1"],
        )
        assert attempt.error is None and attempt.status_code == 200
        got = target.wait_for(1)[0]
        assert got.path == "/in?x=1" and got.body == b"\x00body"
        assert got.header("Host") == f"hooks.internal.test:{target.port}"
        assert got.header("User-Agent") is None and got.header("Accept-Encoding") is None
        assert ("X-Target", "yes") in attempt.response_headers
        assert attempt.response_body == b'{"received": true}'
    finally:
        target.stop()


def test_send_reports_a_refused_connection_as_an_error_value():
    target = RecordingTarget().start()
    port = target.port
    target.stop()
    attempt = send("GET", f"http://127.0.0.1:{port}/", [], b"", timeout=2)
    assert attempt.status_code is None and attempt.error


def test_send_reports_a_timeout():
    target = RecordingTarget(delay_s=2).start()
    try:
        attempt = send("GET", target.url, [], b"", timeout=0.3)
        assert attempt.status_code is None and "timed out" in attempt.error
    finally:
        target.stop()


def test_send_refuses_denied_targets_without_connecting():
    attempt = send("GET", "http://169.254.169.254/latest/meta-data", [], b"", timeout=2, deny=parse_deny(FORWARD_DENY))
    assert attempt.error.startswith("refused:") and "169.254.0.0/16" in attempt.error


# Every spelling of the metadata address 169.254.169.254 that reaches it (or a NAT64, 6to4 or
# Teredo relay that forwards to it); each must meet the default deny list.
METADATA_SPELLINGS = [
    "169.254.169.254",
    "2852039166",  # decimal
    "0251.0376.0251.0376",  # octal
    "0xa9fea9fe",  # hex
    "0xa9.0xfe.0xa9.0xfe",
    "169.254.43518",  # inet_aton's a.b.c16 form
    "\uff11\uff16\uff19.254.169.254",  # full-width digits, folded by IDNA
    "[::ffff:169.254.169.254]",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",
    "[::169.254.169.254]",  # IPv4-compatible
    "[::ffff:0:a9fe:a9fe]",  # IPv4-translated (SIIT)
    "[64:ff9b::a9fe:a9fe]",  # NAT64 well-known prefix
    "[64:ff9b:1:a9fe:a9:fe00::]",  # NAT64 local-use, /48 layout
    "[64:ff9b:1:a9:fe:a9fe::]",  # /56 layout
    "[64:ff9b:1:0:a9:fea9:fe00:0]",  # /64 layout
    "[64:ff9b:1::a9fe:a9fe]",  # /96 layout
    "[2002:a9fe:a9fe::1]",  # 6to4
    "[2001:0:4136:e378:8000:63bf:5601:5601]",  # Teredo, client 169.254.169.254 (bits inverted)
]


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
def test_checked_address_refuses_every_spelling_of_a_denied_address(host):
    with pytest.raises(TargetRefusedError, match=r"169\.254\.169\.254.*169\.254\.0\.0/16"):
        checked_address(f"http://{host}/latest", parse_deny(FORWARD_DENY))


@pytest.mark.parametrize("host", [h.strip("[]") for h in METADATA_SPELLINGS if h.startswith("[")])
def test_checked_address_refuses_a_name_resolving_to_an_embedded_form(host):
    resolve = lambda name, port: ["93.184.216.34", host]  # noqa: E731
    with pytest.raises(TargetRefusedError, match=r"rebind\.test resolves to .*169\.254\.0\.0/16"):
        checked_address("http://rebind.test/", parse_deny(FORWARD_DENY), resolve)


@pytest.mark.parametrize(
    "host, deny",
    [
        ("[::ffff:100.100.100.200]", FORWARD_DENY),  # a /32 entry
        ("[::ffff:127.0.0.1]", "127.0.0.0/8"),
        ("[64:ff9b::a00:5]", "10.0.0.0/8"),
        ("169.254.169.254", "::ffff:169.254.0.0/112"),  # an IPv4 range written IPv4-mapped
        ("[64:ff9b::a9fe:a9fe]", "::ffff:169.254.0.0/112"),
        ("169.254.169.254", "64:ff9b::a9fe:0/112"),
        ("169.254.169.254", "2002:a9fe::/32"),
        ("[fd00:ec2::254]", FORWARD_DENY),  # a plain IPv6 entry
        ("[fe80::1]", FORWARD_DENY),
        ("[64:ff9b::102:304]", "64:ff9b::/96"),  # a whole block denies its own addresses
        ("0.0.0.0", "127.0.0.0/8"),  # connecting to the unspecified address reaches loopback
        ("0", "127.0.0.0/8"),
        ("[::ffff:0.0.0.0]", "127.0.0.0/8"),
        ("[::]", "::1/128"),
    ],
)
def test_deny_entries_match_every_form_of_the_address(host, deny):
    with pytest.raises(TargetRefusedError, match="denied network"):
        checked_address(f"http://{host}/", parse_deny(deny))


@pytest.mark.parametrize(
    "host, deny",
    [
        ("[2001:db8::1]", FORWARD_DENY),
        ("[::1]", "0.0.0.0/8"),  # IPv6 loopback is not the IPv4-compatible 0.0.0.1
        ("[2002:808:808::1]", FORWARD_DENY),  # 6to4 of 8.8.8.8
        ("[64:ff9b::808:808]", FORWARD_DENY),
        ("[64:ff9b:1::808:808]", "127.0.0.0/8"),  # no layout reading counts as unspecified
        ("1.2.3.4", "64:ff9b::/96"),  # denying the NAT64 block does not deny all of IPv4
        ("1.2.3.4", "::ffff:0:0/96"),
        ("2130706433", FORWARD_DENY),  # getaddrinfo reads it as 127.0.0.1, connected to as such
        ("0x7f.1", FORWARD_DENY),
    ],
)
def test_addresses_outside_every_denied_form_are_allowed(host, deny):
    assert checked_address(f"http://{host}/", parse_deny(deny)) in ("127.0.0.1", host.strip("[]"))


def test_refusal_names_the_form_and_the_entry_that_matched():
    with pytest.raises(TargetRefusedError) as refused:
        checked_address("http://[2002:a9fe:a9fe::1]/", parse_deny("::ffff:169.254.0.0/112"))
    assert str(refused.value) == (
        "2002:a9fe:a9fe::1 (6to4: 169.254.169.254), in the denied network ::ffff:a9fe:0/112 (= 169.254.0.0/16)"
        " (HOOKLOUPE_FORWARD_DENY)"
    )


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://h.test:99999/", "Port out of range"),
        ("http://h.test:http/", "Port could not be cast"),
        ("http://h.test:0/", "port 0"),
        ("http://[::1/", "Invalid IPv6 URL"),
        ("http://[zz]/", "does not appear to be an IPv4 or IPv6 address"),
        ("http://" + "a" * 64 + ".test/", "cannot resolve"),
        ("ftp://h.test/", "not an absolute http"),
    ],
)
def test_unusable_targets_are_a_refusal_value_not_an_exception(url, reason):
    """The views reject most of these first; one stored or edited still fails, permanently."""
    with pytest.raises(TargetRefusedError, match=reason):
        checked_address(url, ())
    attempt = send("GET", url, [], b"", timeout=1)
    assert attempt.status_code is None and attempt.error.startswith("refused:") and reason in attempt.error
    assert not should_retry(attempt)


def test_a_resolver_answer_that_is_no_address_is_refused():
    with pytest.raises(TargetRefusedError, match="not an IP address"):
        checked_address("http://h.test/", (), lambda host, port: ["h.test"])


@pytest.fixture
def listener():
    """A bare listening socket on 127.0.0.1: any connection, even one that never sends a
    byte, shows up in its accept queue."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    yield sock
    sock.close()


def connections(sock):
    """How many connections are waiting to be accepted (each is accepted and closed)."""
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


LOOPBACK_SPELLINGS = ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "2130706433", "0x7f000001", "0177.0.0.1", "127.1"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_send_to_a_loopback_spelling_really_connects_when_allowed(listener, host):
    """The control for the test below: each spelling does reach the listener."""
    port = listener.getsockname()[1]
    attempt = send("GET", f"http://{host}:{port}/", [], b"", timeout=0.3, deny=parse_deny(FORWARD_DENY))
    assert "timed out" in attempt.error and connections(listener) == 1


@pytest.mark.parametrize(
    "host", [*LOOPBACK_SPELLINGS, "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "0.0.0.0"]
)
@pytest.mark.parametrize("deny", ["127.0.0.0/8", "::ffff:127.0.0.0/104"])
def test_send_to_a_denied_spelling_never_connects(listener, host, deny):
    port = listener.getsockname()[1]
    attempt = send("POST", f"http://{host}:{port}/", [], b"x", timeout=2, deny=parse_deny(deny))
    assert attempt.error.startswith("refused:") and "denied network" in attempt.error
    assert connections(listener) == 0


def test_send_does_not_follow_a_redirect_to_a_denied_address():
    calls = []

    def answer(request):
        calls.append(str(request.url))
        location = {"Location": "http://169.254.169.254/latest/meta-data"}
        return httpx.Response(302, headers=location, stream=httpx.ByteStream(b""))

    seams = {"resolve": lambda host, port: ["192.0.2.10"], "transport": httpx.MockTransport(answer)}
    attempt = send("GET", "http://hooks.test/in", [], b"", timeout=2, deny=parse_deny(FORWARD_DENY), **seams)
    assert attempt.status_code == 302 and calls == ["http://192.0.2.10/in"]


def test_send_writes_non_ascii_headers_and_hosts_instead_of_raising():
    target = RecordingTarget().start()
    try:
        attempt = send(
            "POST",
            f"http://b\u00fccher.test:{target.port}/",
            [("X-Name", "caf\u00e9")],
            b"",
            timeout=5,
            resolve=lambda host, port: ["127.0.0.1"],
        )
        assert attempt.status_code == 200
        got = target.wait_for(1)[0]
        assert got.header("Host") == f"xn--bcher-kva.test:{target.port}"
        assert got.header("X-Name").encode("latin-1") == "caf\u00e9".encode()
    finally:
        target.stop()


def test_send_reports_an_unwritable_url_as_a_refusal():
    attempt = send("GET", "http://h.test/a\x00b", [], b"", timeout=1, resolve=lambda host, port: ["192.0.2.10"])
    assert attempt.error.startswith("refused: cannot build the request")


# Replay and auto-forward go through `send` with the configured deny list on every attempt.


def capture_one(client, bin_id):
    return client.post(f"/h/{bin_id}/in", data=b"{}").json["request_id"]


@pytest.mark.parametrize(
    "host", ["[::ffff:169.254.169.254]", "2852039166", "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::]"]
)
def test_replay_to_an_embedded_metadata_address_is_refused_and_recorded(client, bin_id, host):
    capture_id = capture_one(client, bin_id)
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": f"http://{host}/x"})
    assert response.status_code == 201
    assert response.json["error"].startswith("refused:") and "169.254.0.0/16" in response.json["error"]


def test_replay_to_mapped_loopback_never_connects_when_loopback_is_denied(app, client, bin_id, listener):
    app.config["FORWARD_DENY"] = FORWARD_DENY + ",127.0.0.0/8"
    capture_id = capture_one(client, bin_id)
    url = f"http://[::ffff:127.0.0.1]:{listener.getsockname()[1]}/"
    response = client.post(f"/api/bins/{bin_id}/requests/{capture_id}/replay", json={"url": url})
    assert response.json["error"].startswith("refused:") and connections(listener) == 0


@pytest.mark.parametrize(
    "url", ["http://[::ffff:169.254.169.254]/", "http://0xa9fea9fe/", "http://[2002:a9fe:a9fe::]/"]
)
def test_forward_to_a_refused_target_fails_once_without_retrying(app, client, bin_id, url):
    patch = {"forward": {"url": url, "enabled": True}}
    assert client.patch(f"/api/bins/{bin_id}", json=patch).status_code == 200
    capture_id = capture_one(client, bin_id)
    assert forward_next(app) is True
    assert forward_next(app, datetime.now(UTC) + timedelta(hours=1)) is False  # failed, not pending
    deliveries = client.get(f"/api/bins/{bin_id}/requests/{capture_id}/deliveries").json["deliveries"]
    assert len(deliveries) == 1 and deliveries[0]["error"].startswith("refused:")


def test_forward_checks_the_address_again_on_every_attempt(app, client, bin_id, listener):
    """A name that first resolves to an allowed (down) target and then to a mapped metadata
    address is refused on the retry: the check is per attempt, not per configuration."""
    answers = iter([["127.0.0.1"], ["::ffff:169.254.169.254"]])
    port = listener.getsockname()[1]
    listener.close()
    patch = {"forward": {"url": f"http://rebind.test:{port}/", "enabled": True}}
    assert client.patch(f"/api/bins/{bin_id}", json=patch).status_code == 200
    capture_id = capture_one(client, bin_id)
    now = datetime.now(UTC)
    assert forward_next(app, now, resolve=lambda host, p: next(answers)) is True
    assert forward_next(app, now + timedelta(seconds=5), resolve=lambda host, p: next(answers)) is True
    errors = [d["error"] for d in client.get(f"/api/bins/{bin_id}/requests/{capture_id}/deliveries").json["deliveries"]]
    assert not errors[0].startswith("refused:") and errors[1].startswith("refused: rebind.test resolves to ::ffff:")


@pytest.mark.parametrize("url", ["http://h.test:99999/h/x", "http://[::1/h/x"])
def test_own_capture_url_check_does_not_raise_on_unusable_urls(url):
    assert is_own_capture_url(url, ["http://h.test/"]) is False
