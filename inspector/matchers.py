"""Matchers: which captures a list, count, wait, export or event stream keeps (DESIGN §4).

One implementation for every reader. `parse` turns query parameters into `Matchers`;
`misses` checks a capture against them and says, for each one it fails, why in a short line
(a failed wait shows these for the nearest captures). The store turns the matchers it can
into SQL (`sql_glob` helps); `misses` always decides, so SQL only narrows the rows read.

A capture is anything with the stored columns (`models.Capture`): method, path, query_string,
headers, content_type, body, provider_id, event, verdict. Captured data is hostile: nothing
here evaluates it, JSON is parsed with a depth bound, gzip is inflated with a size bound.

`text=` is case-insensitive, in `searchable_text`: the body (inflated when gzip or deflate),
header values (as `name: value` lines), the path, the raw and decoded query, and the decoded
values of a form-encoded body; the store narrows it with a search index (store/fts.py).
`since=` and `until=` bound when a capture was received: ISO 8601 dates or datetimes
(`2026-11-01`, `2026-11-28T12:00`, `2026-11-28T12:00+01:00`), UTC unless an offset is given, a
date alone meaning its midnight; `since` keeps captures received at or after it, `until`
those received before it. A `q=` parameter (no key) holds the search box's syntax
(inspector/search_syntax.py) and stands for the matchers it spells.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from inspector import search_syntax
from inspector.bins import InvalidInput, check_text
from inspector.bodydecode import DECODED_LIMIT, decompress
from inspector.headers import first_header
from inspector.safejson import JSONLimitError, loads_bounded
from inspector.signing.verify import STATUSES

# Matchers with one value per capture field, and the families whose name carries a key.
SIMPLE = ("method", "path", "content_type", "text", "provider", "event", "verdict", "since", "until")
FAMILIES = ("q", "h", "json")
# Decided only once the capture is analysed.
ANALYSED = frozenset({"provider", "event", "verdict"})
# A matcher value (or key) longer than this is refused: no capture field needs more.
MAX_VALUE_CHARS = 4096
# JSON bodies over this size are not parsed for `json.` matchers (they never match).
JSON_MATCH_LIMIT = 2 * 1024 * 1024
# The media type whose body is searched by its decoded values too.
FORM_TYPE = "application/x-www-form-urlencoded"

Outcome = Literal["match", "miss", "pending"]


class Matchable(Protocol):
    """What a matcher reads of a capture (the columns of `models.Capture`)."""

    method: str
    path: str
    query_string: str
    headers: list[list[str]]
    content_type: str
    body: bytes
    provider_id: str | None
    event: str | None
    verdict: str | None
    received_at: datetime


@dataclass(frozen=True)
class Term:
    """One matcher: `name` (one of SIMPLE or FAMILIES), `key` for a family (the query
    parameter, lower-cased header name, or dotted JSON path), and the wanted `value`."""

    name: str
    value: str
    key: str = ""

    def __str__(self) -> str:
        return f"{self.name}.{self.key}={self.value}" if self.key else f"{self.name}={self.value}"


@dataclass(frozen=True)
class Matchers:
    """All terms must hold. Empty matchers keep every capture."""

    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __str__(self) -> str:
        return " ".join(str(term) for term in self.terms) or "(any capture)"

    @property
    def needs_analysis(self) -> bool:
        return any(term.name in ANALYSED for term in self.terms)

    @property
    def needs_body(self) -> bool:
        return any(term.name in ("json", "text") for term in self.terms)

    def of(self, name: str) -> list[Term]:
        return [term for term in self.terms if term.name == name]


NO_MATCHERS = Matchers()


def parse(pairs: Iterable[tuple[str, str]], *, ignore: Collection[str] = ()) -> Matchers:
    """Matchers from query parameters; names in `ignore` (the route's own parameters, such as
    `limit`) are skipped, an empty value means "not set". InvalidInput for a name that is no
    matcher (a typo must not match everything), a bad verdict, NUL, or an over-long value."""
    terms: list[Term] = []
    for raw_name, raw_value in pairs:
        if raw_name in ignore or raw_value == "":
            continue
        if raw_name == "q":  # the search box's syntax
            query = check_text(raw_value, "q")
            if len(query) > MAX_VALUE_CHARS:
                raise InvalidInput(f"q is over {MAX_VALUE_CHARS} characters")
            terms += parse(search_syntax.parse(query)).terms
            continue
        name, _, key = raw_name.partition(".")
        if not (raw_name in SIMPLE or (name in FAMILIES and key)):
            raise InvalidInput(
                f"unknown matcher {raw_name[:100]!r}; matchers are {', '.join(SIMPLE)}, "
                "q.<name>, h.<name>, json.<dotted.path> and q (search syntax)"
            )
        value = check_text(raw_value, raw_name[:100])
        if len(value) > MAX_VALUE_CHARS or len(key) > MAX_VALUE_CHARS:
            raise InvalidInput(f"{raw_name[:100]} is over {MAX_VALUE_CHARS} characters")
        if name == "verdict" and value not in STATUSES:
            raise InvalidInput(f"verdict must be one of: {', '.join(STATUSES)}")
        if name in ("since", "until"):
            value = parse_time(value, name).isoformat()
        terms.append(Term(name, value, key.lower() if name == "h" else key))
    return Matchers(tuple(terms))


def parse_time(value: str, name: str) -> datetime:
    """An ISO 8601 date or datetime as an aware UTC datetime (UTC unless it has an offset; a
    date alone is its midnight); InvalidInput naming `name` otherwise."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 date or datetime, e.g. 2026-11-01 or 2026-11-28T12:00 (UTC) "
            "or 2026-11-28T12:00+01:00"
        ) from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before the first representable moment
        raise InvalidInput(f"{name} is out of range: a date from 0001-01-02 to 9999-12-30") from None


def misses(matchers: Matchers, capture: Matchable) -> list[str]:
    """Why the capture fails the matchers, one line per failed term; [] when it matches. A
    term on provider, event or verdict of an unanalysed capture fails with "waiting for its
    analysis" (see `outcome`)."""
    facts = _Facts(capture)
    return [reason for term in matchers.terms if (reason := _miss(term, capture, facts)) is not None]


def outcome(matchers: Matchers, capture: Matchable) -> Outcome:
    """`match`, `miss`, or `pending`: it fails nothing but terms that need its analysis,
    which it does not have yet (a wait holds on to it)."""
    facts = _Facts(capture)
    pending = False
    for term in matchers.terms:
        if term.name in ANALYSED and capture.verdict is None:
            pending = True
        elif _miss(term, capture, facts) is not None:
            return "miss"
    return "pending" if pending else "match"


def sql_glob(pattern: str) -> str | None:
    """A LIKE pattern (escape character `\\`) that keeps at least what the glob matches, or
    None when the glob has a character class (left to `misses`)."""
    if "[" in pattern:
        return None
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


# --- one term --------------------------------------------------------------------------------


def _miss(term: Term, capture: Matchable, facts: _Facts) -> str | None:
    """None when the term holds, else why not."""
    name, wanted = term.name, term.value
    if name in ANALYSED and capture.verdict is None:
        return f"{name}: waiting for its analysis"
    if name == "method":
        return None if capture.method.upper() == wanted.upper() else _wanted(name, wanted, capture.method)
    if name == "path":
        path = capture.path or "/"
        return None if fnmatch.fnmatchcase(path, wanted) else f"path: {_show(path)} does not match {_show(wanted)}"
    if name == "content_type":
        media = capture.content_type.split(";", 1)[0].strip().lower()
        if fnmatch.fnmatchcase(media, wanted.lower()):
            return None
        return f"content_type: {_show(media or '(none)')} does not match {_show(wanted)}"
    if name == "provider":
        got = capture.provider_id or "none"
        return None if got == wanted else _wanted(name, wanted, got)
    if name == "event":
        if capture.event is not None and fnmatch.fnmatchcase(capture.event, wanted):
            return None
        return f"event: {_show(capture.event) if capture.event else 'none'} does not match {_show(wanted)}"
    if name == "verdict":
        return None if capture.verdict == wanted else _wanted(name, wanted, capture.verdict)
    if name in ("since", "until"):
        bound, received = datetime.fromisoformat(wanted), capture.received_at.astimezone(UTC)
        if (received >= bound) if name == "since" else (received < bound):
            return None
        return f"{name}: received at {received.isoformat()}, {'before' if name == 'since' else 'not before'} {wanted}"
    if name == "q":
        values = [value for key, value in facts.query() if key == term.key]
        if wanted in values:
            return None
        return f"q.{term.key}: {_got_values(values, 'query parameter')}, wanted {_show(wanted)}"
    if name == "h":
        values = [value for key, value in capture.headers if key.lower() == term.key]
        if any(fnmatch.fnmatchcase(value.lower(), wanted.lower()) for value in values):
            return None
        return f"h.{term.key}: {_got_values(values, 'header')}, wanted {_show(wanted)}"
    if name == "json":
        return _json_miss(term, facts)
    if name == "text":
        return None if wanted.lower() in facts.text() else f"text: {_show(wanted)} not found"
    raise AssertionError(f"unhandled matcher {name}")  # parse() admits no other name


def _json_miss(term: Term, facts: _Facts) -> str | None:
    document = facts.json()
    if document is _NOT_JSON:
        return f"json.{term.key}: the body is not JSON"
    found, value = _at_path(document, term.key)
    if not found:
        return f"json.{term.key}: no value at that path"
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return None if text == term.value else f"json.{term.key}: got {_show(text)}, wanted {_show(term.value)}"


def _at_path(document: Any, dotted: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path; a segment of digits indexes a list."""
    node = document
    for segment in dotted.split("."):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isascii() and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return False, None
    return True, node


_NOT_JSON = object()


class _Facts:
    """What several terms read of one capture, worked out once (query pairs, text, JSON)."""

    def __init__(self, capture: Matchable) -> None:
        self._capture = capture
        self._query: list[tuple[str, str]] | None = None
        self._text: str | None = None
        self._json: Any = None
        self._json_read = False

    def query(self) -> list[tuple[str, str]]:
        if self._query is None:
            from inspector.capture.request import query_pairs

            self._query = query_pairs(self._capture.query_string)
        return self._query

    def body(self) -> bytes:
        return decoded_body(self._capture.headers, self._capture.body)

    def text(self) -> str:
        if self._text is None:
            capture = self._capture
            self._text = searchable_text(
                capture.path, capture.query_string, capture.headers, capture.content_type, self.body()
            )
        return self._text

    def json(self) -> Any:
        if not self._json_read:
            self._json_read = True
            body = self.body()
            try:
                self._json = loads_bounded(body, max_bytes=JSON_MATCH_LIMIT) if body else _NOT_JSON
            except (JSONLimitError, ValueError):
                self._json = _NOT_JSON
        return self._json


def decoded_body(headers: Iterable[Sequence[str]], body: bytes) -> bytes:
    """The body, inflated (bounded) when its Content-Encoding is gzip or deflate."""
    encoding = (first_header(headers, "Content-Encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        decoded = decompress(body, encoding, DECODED_LIMIT)
        if not decoded.error:
            return decoded.data
    return body


def searchable_text(
    path: str, query_string: str, headers: Iterable[Sequence[str]], content_type: str, body: bytes
) -> str:
    """What `text=` searches, lower-cased: the decoded body (`decoded_body`, as UTF-8), the
    headers as `name: value` lines, the path, the raw query string and its decoded `key=value`
    pairs, and a form-encoded body's decoded `key=value` pairs. The search index holds the
    same text (store/fts.py)."""
    from inspector.capture.request import query_pairs

    text = body.decode("utf-8", "replace")
    parts = [text, "\n".join(f"{name}: {value}" for name, value in headers), path, query_string]
    parts += [f"{key}={value}" for key, value in query_pairs(query_string)]
    if content_type.split(";", 1)[0].strip().lower() == FORM_TYPE:
        parts += [f"{key}={value}" for key, value in query_pairs(text)]
    return "\n".join(parts).lower()


# --- wording ---------------------------------------------------------------------------------


def _show(value: str | None, limit: int = 80) -> str:
    """A value quoted for a one-line reason, cut at `limit` characters."""
    if value is None:
        return "none"
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _wanted(name: str, wanted: str, got: str | None) -> str:
    return f"{name}: wanted {_show(wanted)}, got {_show(got)}"


def _got_values(values: Sequence[str], what: str) -> str:
    if not values:
        return f"no {what} of that name"
    shown = ", ".join(_show(value, 40) for value in values[:3])
    return f"got {shown}" + (f" and {len(values) - 3} more" if len(values) > 3 else "")
