"""Compare two delivery attempts: status, headers side by side, and a line diff of the bodies."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from inspector.safejson import JSONLimitError, loads_bounded

# Bodies are diffed line by line; beyond this many lines a side is cut (and the note says so),
# so a huge response cannot make the page slow.
MAX_DIFF_LINES = 2000
HEX_WIDTH = 16


@dataclass(frozen=True)
class HeaderRow:
    """One header name (compared case-insensitively) and its values on each side, repeated
    values joined by ", "; None when that side lacks it. `state`: same, changed, added
    (only on the right), removed (only on the left)."""

    name: str
    left: str | None
    right: str | None
    state: str


@dataclass(frozen=True)
class DiffLine:
    """One line of a body diff; `kind` is context, added, removed or hunk (an @@ marker)."""

    kind: str
    text: str


class Attempt(Protocol):
    """What a comparison reads of a delivery attempt: a Delivery row, or anything alike."""

    @property
    def status_code(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def response_headers(self) -> Sequence[Sequence[str]] | None: ...
    @property
    def response_body(self) -> bytes | None: ...


@dataclass(frozen=True)
class Comparison:
    left_status: str
    right_status: str
    status_same: bool
    headers: list[HeaderRow]
    body_same: bool
    body: list[DiffLine]
    notes: list[str]


def body_text(body: bytes) -> tuple[str, bool]:
    """(text, is_binary): the body as UTF-8 text, or as a hex dump (16 bytes a line) when it
    is not valid UTF-8."""
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return hex_dump(body), True


def hex_dump(body: bytes) -> str:
    """`offset  hex bytes` lines, 16 bytes each."""
    return "\n".join(
        f"{offset:08x}  {body[offset : offset + HEX_WIDTH].hex(' ')}" for offset in range(0, len(body), HEX_WIDTH)
    )


def compare_headers(left: Sequence[Sequence[str]], right: Sequence[Sequence[str]]) -> list[HeaderRow]:
    """Header pairs of both sides by name (case-insensitive), in the left side's order, then
    names only the right side has."""
    left_map: dict[str, list[str]] = {}
    right_map: dict[str, list[str]] = {}
    order: list[str] = []
    spelled: dict[str, str] = {}
    for pairs, found in ((left, left_map), (right, right_map)):
        for name, value in pairs:
            key = name.lower()
            if key not in spelled:
                spelled[key] = name
                order.append(key)
            found.setdefault(key, []).append(value)
    rows = []
    for key in order:
        a = ", ".join(left_map[key]) if key in left_map else None
        b = ", ".join(right_map[key]) if key in right_map else None
        state = "removed" if b is None else "added" if a is None else "same" if a == b else "changed"
        rows.append(HeaderRow(spelled[key], a, b, state))
    return rows


def _diffable(body: bytes) -> tuple[list[str], str]:
    """Lines to diff and how they were made: JSON is re-indented (key order kept) so a
    one-line body diffs field by field, a lone surrogate ("\\ud800") kept as written since no
    page can encode it; other text as is; binary as hex."""
    text, is_binary = body_text(body)
    how = "hex dump" if is_binary else "text"
    if not is_binary and text.strip()[:1] in ("{", "["):
        try:
            indented = json.dumps(loads_bounded(text), indent=2, ensure_ascii=False)
            text, how = indented.encode("utf-8", "backslashreplace").decode(), "JSON, re-indented"
        except JSONLimitError:
            how = "text (JSON too deep or too large to re-indent)"
        except ValueError:
            pass
    return text.splitlines(), how


def diff_bodies(left: bytes, right: bytes, *, context: int = 3) -> tuple[list[DiffLine], list[str]]:
    """A unified diff of two bodies as DiffLines (empty when they are equal), and notes on
    how they were read (re-indented JSON, hex dump, cut at MAX_DIFF_LINES)."""
    (a, how_a), (b, how_b) = _diffable(left), _diffable(right)
    notes = []
    if how_a != "text" or how_b != "text":
        notes.append(f"Bodies compared as: left {how_a}, right {how_b}.")
    if len(a) > MAX_DIFF_LINES or len(b) > MAX_DIFF_LINES:
        notes.append(f"Only the first {MAX_DIFF_LINES} lines of each body are compared.")
        a, b = a[:MAX_DIFF_LINES], b[:MAX_DIFF_LINES]
    lines: list[DiffLine] = []
    for line in difflib.unified_diff(a, b, "left", "right", n=context, lineterm=""):
        if line.startswith(("---", "+++")) and not lines:
            continue  # the two file-name lines that open every unified diff
        if line.startswith("@@"):
            lines.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            lines.append(DiffLine("added", line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine("removed", line[1:]))
        else:
            lines.append(DiffLine("context", line[1:]))
    return lines, notes


def status_text(delivery: Attempt) -> str:
    """`200`, or the error when the attempt got no answer."""
    if delivery.status_code is not None:
        return str(delivery.status_code)
    return f"no answer: {delivery.error or 'unknown error'}"


def compare_deliveries(left: Attempt, right: Attempt) -> Comparison:
    """Compare two Delivery rows (or anything with status_code, error, response_headers and
    response_body)."""
    body, notes = diff_bodies(left.response_body or b"", right.response_body or b"")
    left_status, right_status = status_text(left), status_text(right)
    return Comparison(
        left_status=left_status,
        right_status=right_status,
        status_same=left_status == right_status,
        headers=compare_headers(left.response_headers or [], right.response_headers or []),
        body_same=(left.response_body or b"") == (right.response_body or b""),
        body=body,
        notes=notes,
    )
