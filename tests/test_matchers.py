"""inspector/matchers.py: parsing matcher parameters and checking captures against them."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field

import pytest

from inspector import matchers
from inspector.bins import InvalidInput


@dataclass
class Row:
    """A capture as the matchers read it (the columns of models.Capture)."""

    method: str = "POST"
    path: str = "/orders/42"
    query_string: str = "a=1&a=2&token=x%20y"
    headers: list[list[str]] = field(
        default_factory=lambda: [["Content-Type", "application/json; charset=utf-8"], ["X-Shop-Topic", "Orders/Paid"]]
    )
    content_type: str = "application/json; charset=utf-8"
    body: bytes = b'{"order": {"id": 42, "paid": true, "items": [{"sku": "A-1"}], "note": null}, "total": 9.5}'
    provider_id: str | None = "stripe"
    event: str | None = "invoice.paid"
    verdict: str | None = "valid"


def parse(query: str) -> matchers.Matchers:
    from urllib.parse import parse_qsl

    return matchers.parse(parse_qsl(query, keep_blank_values=True), ignore={"limit"})


@pytest.mark.parametrize(
    "query",
    [
        "method=POST",
        "method=post",
        "path=/orders/*",
        "path=/orders/42",
        "path=/orders/4?",
        "path=/orders/[0-9]*",
        "q.a=2",
        "q.token=x y",
        "h.x-shop-topic=orders/*",
        "h.X-Shop-Topic=ORDERS/PAID",
        "content_type=application/json",
        "content_type=application/*",
        "json.order.id=42",
        "json.order.paid=true",
        "json.order.note=null",
        "json.order.items.0.sku=A-1",
        "json.total=9.5",
        "text=a-1",
        "text=SHOP-TOPIC",
        "text=token=x",
        "provider=stripe",
        "event=invoice.*",
        "verdict=valid",
        "method=POST&provider=stripe&json.order.id=42&h.x-shop-topic=*paid",
        "limit=5",  # a route's own parameter is no matcher
        "method=",  # empty means unset
    ],
)
def test_matching_capture_passes(query):
    assert matchers.misses(parse(query), Row()) == []
    assert matchers.outcome(parse(query), Row()) == "match"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("method=GET", "method: wanted 'GET', got 'POST'"),
        ("path=/refunds/*", "path: '/orders/42' does not match '/refunds/*'"),
        ("path=/ORDERS/*", "path: '/orders/42' does not match '/ORDERS/*'"),
        ("q.a=3", "q.a: got '1', '2', wanted '3'"),
        ("q.missing=1", "q.missing: no query parameter of that name, wanted '1'"),
        ("h.x-shop-topic=refunds/*", "h.x-shop-topic: got 'Orders/Paid', wanted 'refunds/*'"),
        ("h.x-other=*", "h.x-other: no header of that name, wanted '*'"),
        ("content_type=text/plain", "content_type: 'application/json' does not match 'text/plain'"),
        ("json.order.id=43", "json.order.id: got '42', wanted '43'"),
        ("json.order.missing=1", "json.order.missing: no value at that path"),
        ("json.order.items.1.sku=A-1", "json.order.items.1.sku: no value at that path"),
        ("text=refund", "text: 'refund' not found"),
        ("provider=github", "provider: wanted 'github', got 'stripe'"),
        ("event=charge.*", "event: 'invoice.paid' does not match 'charge.*'"),
        ("verdict=invalid", "verdict: wanted 'invalid', got 'valid'"),
    ],
)
def test_failing_capture_says_why(query, reason):
    assert matchers.misses(parse(query), Row()) == [reason]
    assert matchers.outcome(parse(query), Row()) == "miss"


def test_every_failed_term_is_reported():
    reasons = matchers.misses(parse("method=GET&provider=github&text=nowhere"), Row())
    assert [reason.split(":")[0] for reason in reasons] == ["method", "provider", "text"]


def test_all_values_of_one_matcher_must_hold():
    assert matchers.misses(parse("q.a=1&q.a=2"), Row()) == []
    assert matchers.misses(parse("q.a=1&q.a=3"), Row()) == ["q.a: got '1', '2', wanted '3'"]


def test_provider_none_matches_an_analysed_capture_without_provider():
    row = Row(provider_id=None, event=None, verdict="none")
    assert matchers.outcome(parse("provider=none"), row) == "match"
    assert matchers.outcome(parse("provider=none"), Row()) == "miss"


def test_unanalysed_capture_is_pending_on_analysis_matchers_only():
    row = Row(provider_id=None, event=None, verdict=None)
    assert matchers.outcome(parse("verdict=valid"), row) == "pending"
    assert matchers.outcome(parse("provider=stripe&method=POST"), row) == "pending"
    # a term it fails already decides: no need to wait for its analysis
    assert matchers.outcome(parse("provider=stripe&method=GET"), row) == "miss"
    assert matchers.outcome(parse("method=POST"), row) == "match"
    assert matchers.misses(parse("event=x"), row) == ["event: waiting for its analysis"]


def test_text_searches_a_gzip_body():
    row = Row(body=gzip.compress(b"The Order Was PAID"), headers=[["Content-Encoding", "gzip"]])
    assert matchers.outcome(parse("text=order was paid"), row) == "match"
    assert matchers.outcome(parse("json.x=1"), row) == "miss"


def test_json_on_gzip_body():
    row = Row(body=gzip.compress(json.dumps({"id": "ev_1"}).encode()), headers=[["Content-Encoding", "gzip"]])
    assert matchers.misses(parse("json.id=ev_1"), row) == []


def test_gzip_bomb_is_inflated_only_up_to_the_limit():
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    row = Row(body=bomb, headers=[["Content-Encoding", "gzip"]])
    assert matchers.outcome(parse("text=needle"), row) == "miss"


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000])
def test_json_matcher_on_a_body_that_is_not_usable_json_misses(body):
    assert matchers.outcome(parse("json.a=1"), Row(body=body)) == "miss"


def test_binary_body_text_search_does_not_fail():
    row = Row(body=bytes(range(256)) * 10, content_type="application/octet-stream")
    assert matchers.outcome(parse("text=\u00ff"), row) == "miss"
    assert matchers.outcome(parse("text=abc"), row) == "match"  # bytes 0x61..0x63 are there


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("provder=github", "unknown matcher 'provder'"),
        ("h.=x", "unknown matcher 'h.'"),
        ("json=1", "unknown matcher 'json'"),
        ("verdict=ok", "verdict must be one of"),
        ("text=a%00b", "must not contain NUL"),
    ],
)
def test_bad_matchers_are_refused(query, message):
    with pytest.raises(InvalidInput, match=message):
        parse(query)


def test_overlong_value_is_refused():
    with pytest.raises(InvalidInput, match="over 4096"):
        matchers.parse([("text", "x" * 5000)])


def test_header_names_are_kept_lower_case_and_printed():
    wanted = parse("h.X-Foo=bar*&provider=github")
    assert str(wanted) == "h.x-foo=bar* provider=github"
    assert wanted.needs_analysis and not wanted.needs_body
    assert parse("text=x").needs_body and not parse("text=x").needs_analysis
    assert str(matchers.NO_MATCHERS) == "(any capture)" and not matchers.NO_MATCHERS


@pytest.mark.parametrize(
    ("glob", "like"),
    [("a*b", "a%b"), ("a?b", "a_b"), ("100%_x*", "100\\%\\_x%"), ("c:\\d*", "c:\\\\d%"), ("[ab]*", None)],
)
def test_sql_glob_escapes_like_wildcards(glob, like):
    assert matchers.sql_glob(glob) == like


# --- since / until ---------------------------------------------------------------------------


def received(at: str) -> Row:
    from datetime import datetime

    row = Row()
    row.received_at = datetime.fromisoformat(at)  # type: ignore[attr-defined]
    return row


@pytest.mark.parametrize(
    ("query", "at", "kept"),
    [
        ("since=2026-11-01", "2026-11-01T00:00:00+00:00", True),
        ("since=2026-11-01", "2026-10-31T23:59:59+00:00", False),
        ("until=2026-11-28", "2026-11-27T23:59:59+00:00", True),
        ("until=2026-11-28", "2026-11-28T00:00:00+00:00", False),
        ("until=2026-11-28T12:00", "2026-11-28T11:59:00+00:00", True),
        # An offset is honoured: 12:00+01:00 is 11:00 UTC.
        ("until=2026-11-28T12:00%2B01:00", "2026-11-28T11:30:00+00:00", False),
        ("since=2026-11-28T12:00Z", "2026-11-28T12:00:00+00:00", True),
    ],
)
def test_since_and_until_bound_the_arrival_time(query, at, kept):
    found = matchers.misses(parse(query), received(at))
    assert (found == []) is kept, found


def test_since_until_values_are_stored_in_utc():
    term = parse("since=2026-11-28T12:00%2B01:00").terms[0]
    assert term.value == "2026-11-28T11:00:00+00:00"


def test_a_bad_date_is_refused():
    with pytest.raises(InvalidInput, match="ISO 8601"):
        parse("until=28/11/2026")
