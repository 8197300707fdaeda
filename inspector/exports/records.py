"""What an imported file holds for one capture (`Fields`), checked into the value a capture is (`Incoming`).

Everything in an imported file is hostile. A capture's fields are taken only when the wire or
the database could have held them: the method an HTTP token; a sub-path empty or from `/`, and
it and the query string free of spaces, controls and `#` (a `?` ends a path); header names
tokens and values free of CR, LF and NUL; no text with NUL or a lone surrogate (PostgreSQL
refuses them); times in ISO 8601 (without a zone: UTC). Anything else is an ImportInputError
naming the line or entry and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inspector.bins import InvalidInput, check_text
from inspector.capture.request import CapturedRequest
from inspector.headers import first_header

# The `captures` columns' sizes (models.py), and bounds no real request comes near.
MAX_METHOD = 32
# body_size is a 32-bit integer column on PostgreSQL.
MAX_BODY_SIZE = 2**31 - 1
MAX_REMOTE_ADDR = 64
MAX_URL_CHARS = 64 * 1024
MAX_HEADERS = 1000
MAX_TEXT = 64 * 1024
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_NOT_IN_URL = re.compile(r"[\x00-\x20\x7f#]")
_NOT_IN_VALUE = re.compile(r"[\r\n\x00]")


class ImportInputError(InvalidInput):
    """An imported file (or one of its captures) cannot be imported; the message says where
    (`line 3`, `entry 2`) and why. Nothing of the file is imported."""


@dataclass(frozen=True)
class Fields:
    """One capture as a file holds it, before any check: values of any JSON type, except the
    body (bytes, already decoded from base64 or text). `where` names it in errors."""

    where: str
    method: Any
    path: Any
    query_string: Any
    headers: Any
    body: bytes
    received_at: Any
    remote_addr: Any = ""
    content_type: Any = None
    body_size: Any = None
    body_truncated: Any = False
    body_incomplete: Any = False
    handshake: Any = None
    redacted: Any = None
    original_id: Any = None


@dataclass(frozen=True)
class Incoming:
    """A checked capture to store: the request as captured, what the row adds, and its place
    (`order`: by time, then by its id in the file, then its position)."""

    captured: CapturedRequest
    handshake: str | None
    redacted: tuple[str, ...]
    order: tuple[datetime, int, int]


def incoming(fields: Fields, position: int) -> Incoming:
    """`fields` checked (see the module docstring); `position` is its place in the file."""
    where = fields.where
    headers = _headers(fields.headers, where)
    body = fields.body
    truncated = _flag(fields.body_truncated, "body_truncated", where)
    size = len(body)
    if truncated:
        claimed = fields.body_size
        # A truncated body's true size may exceed its bytes; bounded like the column (and no bool).
        fits = isinstance(claimed, int) and not isinstance(claimed, bool) and len(body) <= claimed <= MAX_BODY_SIZE
        if claimed is not None and not fits:
            raise ImportInputError(f"{where}: body_size must be an integer from the body's length to {MAX_BODY_SIZE}")
        size = claimed if fits else len(body)
    content_type = fields.content_type
    if content_type is None:
        content_type = first_header(headers, "Content-Type") or ""
    captured = CapturedRequest(
        method=_method(fields.method, where),
        path=_url_part(fields.path, "path", where, allow_question=False),
        query_string=_url_part(fields.query_string, "query_string", where, allow_question=True),
        headers=headers,
        body=body,
        body_size=size,
        body_truncated=truncated,
        remote_addr=_text(fields.remote_addr or "", "remote_addr", where, MAX_REMOTE_ADDR),
        received_at=_time(fields.received_at, where),
        content_type=_text(content_type, "content_type", where, MAX_TEXT),
        body_incomplete=_flag(fields.body_incomplete, "body_incomplete", where),
    )
    handshake = None if fields.handshake is None else _text(fields.handshake, "handshake", where, MAX_TEXT)
    redacted = _strings(fields.redacted, "redacted", where)
    original = fields.original_id if isinstance(fields.original_id, int) else position
    return Incoming(captured, handshake, redacted, (captured.received_at, original, position))


def _text(value: object, field: str, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ImportInputError(f"{where}: {field} must be a string")
    if len(value) > limit:
        raise ImportInputError(f"{where}: {field} is over {limit} characters")
    try:
        return check_text(value, f"{where}: {field}")
    except InvalidInput as error:
        raise ImportInputError(str(error)) from None


def _flag(value: object, field: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ImportInputError(f"{where}: {field} must be true or false")
    return value


def _method(value: object, where: str) -> str:
    method = _text(value, "method", where, MAX_METHOD)
    if not _TOKEN.fullmatch(method):
        raise ImportInputError(f"{where}: method {method!r} is not an HTTP method (a token of letters, digits, -._…)")
    return method


def _url_part(value: object, field: str, where: str, *, allow_question: bool) -> str:
    text = _text(value, field, where, MAX_URL_CHARS)
    if _NOT_IN_URL.search(text) or (not allow_question and "?" in text):
        raise ImportInputError(
            f"{where}: {field} holds a space, a control character, `#`{'' if allow_question else ' or `?`'}"
        )
    if not allow_question and text and not text.startswith("/"):
        raise ImportInputError(f"{where}: path must be empty or start with /")
    return text


def _headers(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or len(value) > MAX_HEADERS:
        raise ImportInputError(f"{where}: headers must be a list of at most {MAX_HEADERS} [name, value] pairs")
    pairs = []
    for number, pair in enumerate(value, start=1):
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise ImportInputError(f"{where}: header #{number} is not a [name, value] pair")
        name = _text(pair[0], f"header #{number} name", where, MAX_TEXT)
        text = _text(pair[1], f"header {name[:100]!r}", where, MAX_TEXT)
        if not _TOKEN.fullmatch(name):
            raise ImportInputError(f"{where}: header #{number} name {name[:100]!r} is not a token")
        if _NOT_IN_VALUE.search(text):
            raise ImportInputError(f"{where}: header {name!r} holds CR or LF, which no request can carry")
        pairs.append((name, text))
    return tuple(pairs)


def _time(value: object, where: str) -> datetime:
    text = _text(value, "received_at", where, 100)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ImportInputError(f"{where}: received_at {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ImportInputError(f"{where}: received_at {text!r} is out of range") from None


def _strings(value: object, field: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_HEADERS:
        raise ImportInputError(f"{where}: {field} must be a list of strings")
    return tuple(_text(item, field, where, MAX_TEXT) for item in value)
