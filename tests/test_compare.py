"""Comparing two delivery attempts (inspector.compare): headers by name, bodies as a line diff."""

from __future__ import annotations

from types import SimpleNamespace

from inspector.delivery import compare


def delivery(status=200, headers=(), body=b"", error=None):
    return SimpleNamespace(
        status_code=status, error=error, response_headers=[list(p) for p in headers], response_body=body
    )


def test_headers_are_matched_by_name_case_insensitively():
    rows = compare.compare_headers([["Content-Type", "a"]], [["content-type", "a"]])
    assert rows == [compare.HeaderRow("Content-Type", "a", "a", "same")]


def test_header_states_changed_added_removed():
    rows = compare.compare_headers([["A", "1"], ["B", "2"]], [["A", "9"], ["C", "3"]])
    assert [(r.name, r.state) for r in rows] == [("A", "changed"), ("B", "removed"), ("C", "added")]
    assert rows[1].right is None and rows[2].left is None


def test_repeated_headers_are_joined_not_lost():
    rows = compare.compare_headers([["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]], [["Set-Cookie", "a=1"]])
    assert rows[0].left == "a=1, b=2" and rows[0].state == "changed"


def test_equal_bodies_have_no_diff():
    lines, notes = compare.diff_bodies(b"same\n", b"same\n")
    assert lines == [] and notes == []


def test_text_diff_marks_added_and_removed_lines_without_file_headers():
    lines, _ = compare.diff_bodies(b"one\ntwo\nthree\n", b"one\n2\nthree\n")
    kinds = [(line.kind, line.text) for line in lines]
    assert kinds[0][0] == "hunk"
    assert ("removed", "two") in kinds and ("added", "2") in kinds
    assert ("context", "one") in kinds
    assert not any(text.startswith(("--- left", "+++ right")) for _, text in kinds)


def test_json_bodies_are_reindented_so_one_field_differs():
    lines, notes = compare.diff_bodies(b'{"a":1,"b":2}', b'{"a":1,"b":3}')
    assert [line.text for line in lines if line.kind == "removed"] == ['  "b": 2']
    assert [line.text for line in lines if line.kind == "added"] == ['  "b": 3']
    assert "JSON" in notes[0]


def test_binary_bodies_are_diffed_as_hex():
    lines, notes = compare.diff_bodies(b"\xff\x00", b"\xff\x01")
    assert [line.text for line in lines if line.kind == "added"] == ["00000000  ff 01"]
    assert "hex dump" in notes[0]


def test_long_bodies_are_cut_and_say_so(monkeypatch):
    monkeypatch.setattr(compare, "MAX_DIFF_LINES", 3)
    lines, notes = compare.diff_bodies(b"a\nb\nc\nd\n", b"a\nb\nc\nX\n")
    assert lines == [] and "first 3 lines" in notes[-1]


def test_body_text_falls_back_to_hex():
    assert compare.body_text(b"hi") == ("hi", False)
    assert compare.body_text(b"\xff" + bytes(range(1, 18))) == (
        "00000000  ff 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n00000010  10 11",
        True,
    )


def test_compare_deliveries_status_and_error():
    result = compare.compare_deliveries(delivery(200, body=b"x"), delivery(None, error="connection refused"))
    assert result.left_status == "200"
    assert result.right_status == "no answer: connection refused"
    assert not result.status_same and not result.body_same


def test_compare_identical_deliveries():
    a = delivery(201, [["X", "1"]], b"ok")
    result = compare.compare_deliveries(a, delivery(201, [["X", "1"]], b"ok"))
    assert result.status_same and result.body_same and result.body == []
    assert [row.state for row in result.headers] == ["same"]
