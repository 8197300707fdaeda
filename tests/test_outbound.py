"""Unit tests of outbound sending: URL joining, header filtering, the deny-list, real sends."""

import ipaddress

import pytest
from targets import RecordingTarget

from inspector.config import FORWARD_DENY
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
