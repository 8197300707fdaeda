"""Redaction: replace a capture's sensitive values (headers, query, body) by MASK under a bin's rules.

Rules (`Bin.redact`; None, or a key left out: that key's default): `headers` (names,
case-insensitive; default DEFAULT_HEADERS): each value masked. `json_paths`: the JSON body's
value at each path, of any type, masked. `form_fields` (case-sensitive): the value of each
such query parameter, urlencoded body field or multipart form field masked. `patterns`
(Python regexes): each non-empty match masked in header values, decoded query values and the
body text. `at_capture`: redact before the row is written ("never store", capture/insert.py);
`for_owner`: the owner sees the redacted view too.

JSON paths are dotted from the root: `card.number`, `items.*.token`; `*` is every key or list
item, a segment of ASCII digits indexes a list (or names a key). `$.card.number`,
`items[*].token` and `items[0]` are accepted and stored dotted. A key holding `.` cannot be named.

Shapes are kept: a query string or form body keeps its pieces and order (a masked value reads
`[redacted]` unencoded); a multipart part keeps its headers. A JSON body a path matched is
written again compactly (UTF-8, key order kept, floats as Python reads them: `1.10` → `1.1`);
a body nothing matched keeps its bytes. A gzip/deflate body is inflated, redacted and, when
something matched, compressed again. The path is never redacted.

Limits: MAX_ENTRIES entries per list, names and patterns of MAX_TEXT characters, MAX_SEGMENTS
segments per path; a pattern nesting an unbounded repeat in another (`(a+)+`: exponential
backtracking) or using a backreference is refused. Body rules read bodies up to BODY_LIMIT
bytes (inflated) and fail closed: a body they would have to read but cannot (larger, in an
encoding not decoded here, or JSON-looking text that does not parse while JSON paths are set)
is masked whole ("body withheld (…)").

Replacements are reported in words ("header Authorization", "query token pattern #1", "body json
card.number", "body form card", "body withheld (over 2 MiB)"); parse_rules raises InvalidInput.
"""

from __future__ import annotations

import gzip
import importlib
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from inspector.bins import InvalidInput
from inspector.bodydecode import decompress
from inspector.bodyview import media_type
from inspector.capture.request import CapturedRequest
from inspector.headers import first_header
from inspector.models import Bin
from inspector.safejson import loads_bounded

DEFAULT_HEADERS = ("Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization", "X-Api-Key")
MASK = "[redacted]"
MAX_ENTRIES = 50
MAX_TEXT = 200
MAX_SEGMENTS = 32
BODY_LIMIT = 2 * 1024 * 1024
_LISTS = ("headers", "json_paths", "form_fields", "patterns")
_FLAGS = ("at_capture", "for_owner")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BRACKET = re.compile(r"\[(\d+|\*)\]")
_PART_NAME = re.compile(rb'(?im)^content-disposition:[^\r\n]*?\bname="?([^";\r\n]*)')
_COMPRESSED = ("gzip", "x-gzip", "deflate")
_JSON_START = re.compile(rb"\s*[\[{]")
# Where `re._parser`'s parse tree holds a node's subpatterns (see _backtracking).
_NESTED = {"MAX_REPEAT": 2, "MIN_REPEAT": 2, "SUBPATTERN": 3, "ASSERT": 1, "ASSERT_NOT": 1}


@dataclass(frozen=True)
class Rules:
    """A bin's redaction rules (see the module docstring)."""

    headers: tuple[str, ...] = DEFAULT_HEADERS
    json_paths: tuple[str, ...] = ()
    form_fields: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    at_capture: bool = False
    for_owner: bool = False

    @cached_property
    def header_names(self) -> frozenset[str]:
        return frozenset(name.lower() for name in self.headers)

    @cached_property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(pattern) for pattern in self.patterns)


def rules_from_json(data: object) -> Rules:
    """Rules from stored JSON; None, a missing key or a value of the wrong type → that default."""
    stored = data if isinstance(data, Mapping) else {}

    def strings(key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = stored.get(key)
        return tuple(value) if isinstance(value, list) and all(isinstance(s, str) for s in value) else default

    headers, paths, fields, patterns = (strings(key, DEFAULT_HEADERS if key == "headers" else ()) for key in _LISTS)
    return Rules(headers, paths, fields, patterns, stored.get("at_capture") is True, stored.get("for_owner") is True)


def rules_of(bin_: Bin) -> Rules:
    """The bin's rules (the defaults where it sets none)."""
    return rules_from_json(getattr(bin_, "redact", None))


@lru_cache(maxsize=256)
def rules_from_text(text: str) -> Rules:
    """Rules from `capture_rules_text`'s output (cached: the capture path calls it per capture)."""
    return rules_from_json(json.loads(text))


def rules_json(rules: Rules) -> dict[str, Any]:
    """The rules as the API shows them and `Bin.redact` stores them."""
    return {k: list(getattr(rules, k)) for k in _LISTS} | {k: getattr(rules, k) for k in _FLAGS}


def capture_rules_text(rules: Rules) -> str | None:
    """Canonical JSON text of the rules while `at_capture` is on (`Bin.capture_redaction`), else None."""
    return json.dumps(rules_json(rules), sort_keys=True, separators=(",", ":")) if rules.at_capture else None


def parse_rules(value: object) -> dict[str, Any]:
    """Validate the `redact` value of `PATCH /api/bins/<bin>`; returns the rules to store with
    every key filled in (a key left out or null takes its default; `null` as a whole: the
    defaults). Raises InvalidInput saying what is wrong."""
    if value is None:
        return rules_json(Rules())
    if not isinstance(value, dict):
        raise InvalidInput(f"redact must be an object with {', '.join(_LISTS + _FLAGS)}")
    unknown = set(value) - set(_LISTS) - set(_FLAGS)
    if unknown:
        raise InvalidInput(f"redact: unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    for key in _FLAGS:
        if value.get(key) is not None and not isinstance(value[key], bool):
            raise InvalidInput(f"redact.{key} must be true or false")
    checks = {"headers": _header_name, "json_paths": _json_path, "form_fields": _text, "patterns": _pattern}
    given: dict[str, Any] = {}
    for key, check in checks.items():
        entries = value.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
            raise InvalidInput(f"redact.{key} must be a list of strings")
        if len(entries) > MAX_ENTRIES:
            raise InvalidInput(f"redact.{key} holds {len(entries)} entries; at most {MAX_ENTRIES} are allowed")
        given[key] = list(dict.fromkeys(check(entry, f"redact.{key} #{n}") for n, entry in enumerate(entries, 1)))
    given |= {key: value[key] for key in _FLAGS if value.get(key) is not None}
    return rules_json(rules_from_json(given))


def _text(entry: str, where: str) -> str:
    if not entry or len(entry) > MAX_TEXT:
        raise InvalidInput(f"{where} must be 1 to {MAX_TEXT} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in entry):
        raise InvalidInput(f"{where} contains a control character")
    return entry


def _header_name(entry: str, where: str) -> str:
    if not _HEADER_NAME.fullmatch(_text(entry, where)):
        raise InvalidInput(f"{where}: {entry!r} is not a header name (letters, digits and !#$%&'*+.^_`|~-)")
    return entry


def _json_path(entry: str, where: str) -> str:
    path = _BRACKET.sub(r".\1", _text(entry, where).strip())
    path = path[2:] if path.startswith("$.") else path
    segments = path.split(".")
    if "" in segments or path == "$":
        raise InvalidInput(f"{where}: {entry!r} is not a dotted JSON path like card.number or items.*.token")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidInput(f"{where} has {len(segments)} segments; at most {MAX_SEGMENTS} are allowed")
    return path


def _pattern(entry: str, where: str) -> str:
    try:
        compiled = re.compile(_text(entry, where))
    except re.error as error:
        raise InvalidInput(f"{where} is not a valid regular expression: {error}") from None
    if compiled.search(""):
        raise InvalidInput(f"{where} matches the empty string; it would replace nothing")
    problem = _backtracking(entry)
    if problem:
        raise InvalidInput(f"{where} {problem}: it could take exponential time on hostile input")
    return entry


def _backtracking(pattern: str) -> str | None:
    """Why `pattern` may backtrack without bound, or None. Reads the parse tree of `re`'s own
    parser (`re._parser`, private); where Python has none, the check is skipped."""
    try:
        parser: Any = importlib.import_module("re._parser")
    except ImportError:
        return None

    def walk(items: Any, repeated: bool) -> str | None:
        for op, arg in items:
            name, inner = str(op), repeated
            if name.startswith("GROUPREF"):
                return "uses a backreference"
            if name in ("MAX_REPEAT", "MIN_REPEAT"):
                endless = arg[1] == parser.MAXREPEAT
                if endless and repeated:
                    return "nests an unbounded repeat inside another"
                inner = repeated or endless
            children = arg[1] if name == "BRANCH" else [arg] if name == "ATOMIC_GROUP" else []
            for child in [arg[_NESTED[name]]] if name in _NESTED else children:
                if found := walk(child, inner):
                    return found
        return None

    return walk(parser.parse(pattern), False)


def apply_patterns(text: str, rules: Rules) -> tuple[str, list[int]]:
    """`text` with every pattern's matches masked, and the numbers (from 1) of those that matched."""
    hits = []
    for number, pattern in enumerate(rules.compiled, 1):
        changed = pattern.sub(lambda match: MASK if match.group() else "", text)
        if changed != text:
            text = changed
            hits.append(number)
    return text, hits


def redact_headers(headers: Sequence[Sequence[str]], rules: Rules) -> tuple[list[list[str]], list[str]]:
    """Header pairs with the named headers' values masked and the patterns applied to the others."""
    pairs: list[list[str]] = []
    notes: list[str] = []
    for name, value in headers:
        if name.lower() in rules.header_names:
            value = MASK
            notes.append(f"header {name}")
        elif rules.patterns:
            value, hits = apply_patterns(value, rules)
            notes += [f"header {name} pattern #{n}" for n in hits]
        pairs.append([name, value])
    return pairs, list(dict.fromkeys(notes))


def _redact_urlencoded(text: str, rules: Rules, where: str) -> tuple[str, list[str]]:
    """`name=value&…` with the fields' values masked and the patterns applied to the values."""
    if not (rules.form_fields or rules.patterns):
        return text, []
    pieces = text.split("&")
    notes: list[str] = []
    for index, piece in enumerate(pieces):
        raw_name, equals, raw_value = piece.partition("=")
        name = unquote_plus(raw_name)
        if equals and name in rules.form_fields:
            pieces[index] = f"{raw_name}={MASK}"
            notes.append(f"{where} {name}")
        elif equals and rules.patterns:
            value, hits = apply_patterns(unquote_plus(raw_value), rules)
            if hits:
                pieces[index] = f"{raw_name}={quote_plus(value, safe='[]')}"
                notes += [f"{where} {name} pattern #{n}" for n in hits]
    return "&".join(pieces), list(dict.fromkeys(notes))


def redact_query(query_string: str, rules: Rules) -> tuple[str, list[str]]:
    """The raw query string with form fields' and patterns' matches masked, pieces kept."""
    return _redact_urlencoded(query_string, rules, "query") if query_string else (query_string, [])


def _redact_multipart(body: bytes, boundary: str, rules: Rules) -> tuple[bytes, list[str]]:
    """The named fields' part contents masked; each part keeps its headers."""
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    chunks = body.split(delimiter)
    notes = []
    for index, chunk in enumerate(chunks[1:], 1):
        head_end = chunk.find(b"\r\n\r\n")
        found = _PART_NAME.search(chunk, 0, head_end) if head_end >= 0 else None
        name = found.group(1).decode("utf-8", "replace") if found else None
        if name is not None and name in rules.form_fields:
            tail = b"\r\n" if chunk.endswith(b"\r\n") else b""
            chunks[index] = chunk[: head_end + 4] + MASK.encode() + tail
            notes.append(f"body form {name}")
    return delimiter.join(chunks), notes


def _mask_json(node: Any, segments: Sequence[str]) -> bool:
    """Mask the values at `segments` under `node` in place; whether any was there."""
    head, rest = segments[0], segments[1:]
    if isinstance(node, dict):
        keys: Sequence[Any] = list(node) if head == "*" else [head] if head in node else []
    elif isinstance(node, list):
        index = int(head) if head.isascii() and head.isdigit() else len(node)
        keys = range(len(node)) if head == "*" else [index] if index < len(node) else []
    else:
        return False
    found = False
    for key in keys:
        if rest:
            found = _mask_json(node[key], rest) or found
        else:
            node[key], found = MASK, True
    return found


def _redact_json(body: bytes, rules: Rules) -> tuple[bytes, list[str]] | None:
    """The body with the JSON paths masked; None when it does not parse."""
    try:
        document = loads_bounded(body, max_bytes=BODY_LIMIT)
    except ValueError:
        return None
    hits = [path for path in rules.json_paths if _mask_json(document, path.split("."))]
    if not hits:
        return body, []
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass"), [f"body json {path}" for path in hits]


def _withheld(reason: str) -> tuple[bytes, list[str]]:
    return MASK.encode(), [f"body withheld ({reason})"]


def _redact_plain(body: bytes, content_type: str, rules: Rules) -> tuple[bytes, list[str]]:
    """An uncompressed body redacted: JSON paths, then form fields, then patterns."""
    mime, params = media_type(content_type)
    looks_json = bool(rules.json_paths) and _JSON_START.match(body) is not None
    is_form = mime == "application/x-www-form-urlencoded" or (mime == "multipart/form-data" and "boundary" in params)
    if not (looks_json or (rules.form_fields and is_form) or rules.patterns):
        return body, []
    if len(body) > BODY_LIMIT:
        return _withheld(f"over {BODY_LIMIT // (1024 * 1024)} MiB")
    notes: list[str] = []
    if looks_json:
        redacted = _redact_json(body, rules)
        if redacted is None:
            return _withheld("JSON that does not parse")
        body, notes = redacted
    if rules.form_fields and mime == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", "surrogateescape")
        text, found = _redact_urlencoded(text, replace(rules, patterns=()), "body form")
        body, notes = text.encode("utf-8", "surrogateescape"), notes + found
    elif rules.form_fields and mime == "multipart/form-data" and params.get("boundary"):
        body, found = _redact_multipart(body, params["boundary"], rules)
        notes += found
    if rules.patterns:
        text, hits = apply_patterns(body.decode("utf-8", "surrogateescape"), rules)
        if hits:
            body = text.encode("utf-8", "surrogateescape")
            notes += [f"body pattern #{n}" for n in hits]
    return body, notes


def redact_body(body: bytes, content_type: str, content_encoding: str, rules: Rules) -> tuple[bytes, list[str]]:
    """The body with the JSON paths, form fields and patterns applied (compressed and withheld bodies: see above)."""
    if not body or not (rules.json_paths or rules.form_fields or rules.patterns):
        return body, []
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return _redact_plain(body, content_type, rules)
    if encoding not in _COMPRESSED:
        return _withheld(f"Content-Encoding {encoding[:40]}")
    decoded = decompress(body, encoding, BODY_LIMIT)
    if decoded.error or decoded.truncated:
        return _withheld(f"{encoding} data that does not inflate within {BODY_LIMIT // (1024 * 1024)} MiB")
    plain, notes = _redact_plain(decoded.data, content_type, rules)
    if not notes:
        return body, []
    return (gzip.compress(plain, compresslevel=6, mtime=0) if "gzip" in encoding else zlib.compress(plain)), notes


def redact_request(captured: CapturedRequest, rules: Rules) -> tuple[CapturedRequest, list[str]]:
    """The request with the rules applied (the same object when nothing was replaced) and what
    was replaced, each part once."""
    headers, notes = redact_headers(captured.headers, rules)
    query, in_query = redact_query(captured.query_string, rules)
    encoding = first_header(captured.headers, "Content-Encoding") or ""
    body, in_body = redact_body(captured.body, captured.content_type, encoding, rules)
    notes = list(dict.fromkeys(notes + in_query + in_body))
    if not notes:
        return captured, []
    # A body cut at the size limit keeps saying so: its true size still exceeds what is kept.
    size = captured.body_size if body is captured.body else len(body) + captured.body_size - len(captured.body)
    pairs = tuple((name, value) for name, value in headers)
    return replace(captured, headers=pairs, query_string=query, body=body, body_size=size), notes
