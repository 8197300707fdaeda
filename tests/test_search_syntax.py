"""inspector/search_syntax.py: the search box's query syntax read into matcher parameters."""

from __future__ import annotations

import pytest

from inspector import matchers, search_syntax
from inspector.bins import InvalidInput


def test_every_name_maps_to_its_matcher():
    query = (
        "provider:github event:push verdict:invalid method:POST path:/orders/* header:X-Foo=bar query:k=v "
        'json:a.b=1 type:application/json after:2026-11-01 before:2026-11-28T12:00 "free text" words'
    )
    assert search_syntax.parse(query) == [
        ("provider", "github"),
        ("event", "push"),
        ("verdict", "invalid"),
        ("method", "POST"),
        ("path", "/orders/*"),
        ("h.X-Foo", "bar"),
        ("q.k", "v"),
        ("json.a.b", "1"),
        ("content_type", "application/json"),
        ("since", "2026-11-01"),
        ("until", "2026-11-28T12:00"),
        ("text", "free text"),
        ("text", "words"),
    ]


def test_plain_words_are_free_text():
    assert search_syntax.parse("  hello   World ") == [("text", "hello"), ("text", "World")]


def test_blank_is_nothing():
    assert search_syntax.parse("   ") == []


def test_a_quoted_value_keeps_its_spaces():
    assert search_syntax.parse('event:"order paid" header:"x-note=two words"') == [
        ("event", "order paid"),
        ("h.x-note", "two words"),
    ]


def test_an_unclosed_quote_runs_to_the_end():
    assert search_syntax.parse('"half open') == [("text", "half open")]


def test_a_header_alone_means_present():
    assert search_syntax.parse("header:x-foo") == [("h.x-foo", "*")]


def test_a_quoted_colon_is_text():
    assert search_syntax.parse('"10:30"') == [("text", "10:30")]


def test_unknown_name_lists_the_names():
    with pytest.raises(InvalidInput, match=r"unknown search name 'colour'.*provider.*verdict"):
        search_syntax.parse("colour:red")


@pytest.mark.parametrize("query", ["provider:", "query:k", "json:=1", "header:=x"])
def test_a_name_without_its_value_is_refused(query):
    with pytest.raises(InvalidInput):
        search_syntax.parse(query)


def test_q_parameter_stands_for_its_matchers():
    found = matchers.parse([("q", 'verdict:valid after:2026-11-01 "Hello There"')])
    assert [(term.name, term.key, term.value) for term in found.terms] == [
        ("verdict", "", "valid"),
        ("since", "", "2026-11-01T00:00:00+00:00"),
        ("text", "", "Hello There"),
    ]


def test_q_with_a_bad_verdict_or_date_is_refused():
    with pytest.raises(InvalidInput, match="verdict"):
        matchers.parse([("q", "verdict:great")])
    with pytest.raises(InvalidInput, match="ISO 8601"):
        matchers.parse([("q", "after:yesterday")])
