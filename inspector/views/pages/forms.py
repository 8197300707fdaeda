"""What the bin page's forms and query strings send, read into plain values (InvalidInput when unusable)."""

from __future__ import annotations

import re
from typing import TypedDict, cast
from urllib.parse import urlencode

from flask import request
from werkzeug.datastructures import MultiDict

from inspector.bins import InvalidInput, ascii_int, check_header, check_text
from inspector.delivery.replay import Edits
from inspector.matchers import parse as parse_matchers
from inspector.models import Capture
from inspector.signing.verify import STATUSES

# The list filters the page understands, in the order they appear in its form.
FILTERS = ("q", "provider", "event", "verdict")
REPLAY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}")
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")


class ListFilters(TypedDict, total=False):
    """The list filters that are set (the FILTERS names), as `store.list_captures` takes them."""

    q: str
    provider: str
    event: str
    verdict: str


def int_arg(name: str) -> int | None:
    """A non-negative integer query argument; None when absent, not ASCII digits, or too
    large to be an id (no capture could match it)."""
    return ascii_int(request.args.get(name))


def list_filters() -> ListFilters:
    """The list filters in the query string that are set (an unknown verdict is ignored);
    `q` is the search box's syntax (inspector/search_syntax.py). InvalidInput (400) for one
    holding NUL, which no capture can hold either, and for a search that is not valid."""
    found = {name: check_text(request.args.get(name, ""), name).strip() for name in FILTERS}
    if found["verdict"] not in STATUSES:
        found["verdict"] = ""
    if found["q"]:
        parse_matchers([("q", found["q"])])  # its errors say what to write
    return cast(ListFilters, {name: value for name, value in found.items() if value})


def filter_qs(filters: ListFilters) -> str:
    """The filters as `&name=value...`, to append to a URL that already has a query."""
    return f"&{urlencode(filters)}" if filters else ""


def headers_text(headers: list[list[str]] | tuple[tuple[str, str], ...]) -> str:
    """Captured headers as the replay form's `Name: value` lines."""
    return "\n".join(f"{name}: {value}" for name, value in headers)


def editable_body(body: bytes) -> str | None:
    """The body as text for the replay form, None when it is not UTF-8 (sent as captured)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _normal_lines(text: str) -> str:
    # Browsers send a textarea's lines joined by CRLF whatever they were.
    return text.replace("\r\n", "\n")


def replay_edits(row: Capture, form: MultiDict[str, str]) -> Edits:
    """The replay form as replay_capture edits: only what differs from the capture counts as
    edited, so an untouched form sends the capture as captured. InvalidInput when a field
    cannot be used."""
    edits: Edits = {}
    method = form.get("method", "").strip()
    if method and method != row.method:
        if not _METHOD.fullmatch(method):
            raise InvalidInput("method must be an HTTP method token")
        edits["method"] = method.upper()
    given_headers = form.get("headers")
    if given_headers is not None and _normal_lines(given_headers).strip() != headers_text(row.headers).strip():
        edits["headers"] = parse_header_lines(given_headers)
    body = form.get("body")
    original = editable_body(row.body)
    if body is not None and original is not None and _normal_lines(body) != _normal_lines(original):
        body = _normal_lines(body)
        if b"\r\n" in row.body:  # keep the capture's own line endings
            body = body.replace("\n", "\r\n")
        edits["body"] = body.encode("utf-8")
    return edits


def parse_header_lines(text: str) -> list[tuple[str, str]]:
    """`Name: value` lines as header pairs (blank lines skipped); InvalidInput naming the
    first line that is not one."""
    pairs = []
    for number, line in enumerate(_normal_lines(text).split("\n"), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name.strip()):
            raise InvalidInput(f"header line {number} is not “Name: value”")
        pairs.append(check_header(name.strip(), value.strip(), f"header line {number}:"))
    return pairs
