"""The message a scheme signs or verifies, and reading fields out of its JSON or form body."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  registers the "werkzeug.url_quote" codec error handler
from werkzeug.http import parse_options_header

from inspector.headers import first_header
from inspector.safejson import loads_bounded
from inspector.signing.schemes.errors import SignatureError

# Werkzeug's handler for percent-escapes that are not UTF-8 (it keeps them escaped).
_WERKZEUG_QUOTE = "werkzeug.url_quote"


@dataclass(frozen=True)
class Message:
    """What a scheme sees of a request: method, the full URL the sender called, header pairs
    in order, and the raw body bytes."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None when absent."""
        return first_header(self.headers, name)

    def with_header(self, name: str, value: str) -> Message:
        """A copy with header `name` set to `value` (replacing earlier values)."""
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return replace(self, headers=(*kept, (name, value)))

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (parsed at most once)."""
        return parse_json(self.body)

    @cached_property
    def form(self) -> list[tuple[str, str]] | None:
        """The body as form pairs when the request is form-encoded, else None; read as
        Flask's `request.form` reads it (what a receiver hands an SDK such as Twilio's): a body
        that is not UTF-8 gives no pairs, and a percent-escape that is not UTF-8 stays escaped."""
        mimetype, _ = parse_options_header(self.header("Content-Type") or "")
        if mimetype.lower() != "application/x-www-form-urlencoded":
            return None
        try:
            text = self.body.decode()
        except UnicodeDecodeError:
            return []
        return parse_qsl(text, keep_blank_values=True, errors=_WERKZEUG_QUOTE)

    def field(self, path: str) -> Any:
        """Value at dotted `path` in the JSON body (list indexes allowed), or in the form body
        for a one-part path; None when absent."""
        value = dig(self.json, path)
        if value is None and self.form is not None and "." not in path:
            value = next((v for k, v in self.form if k == path), None)
        return value


def parse_json(body: bytes) -> Any:
    """`body` parsed as JSON, or None when it is not JSON or is too deep or large to parse
    (safejson's bounds): detection and verification then treat it as an opaque body."""
    stripped = body.lstrip()
    if not stripped or stripped[:1] not in (b"{", b"["):
        return None
    try:
        return loads_bounded(body)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError and JSONLimitError alike
        return None


def dig(data: Any, path: str) -> Any:
    """Follow a dotted path (`a.b.0.c`) through dicts and lists; None when any step is absent."""
    for step in path.split("."):
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


def as_text(value: Any) -> str:
    """A body field as the text a sender signs (JSON scalars as they print)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def set_field(body: bytes, path: str, value: Any) -> bytes:
    """`body` (a JSON object) with `path` set to `value`, re-serialized compactly. Raises
    SignatureError when the body (a capture, perhaps edited) is not a JSON object, is too
    deep or large to parse, or has no place for `path`."""
    try:
        data = loads_bounded(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("not an object")
        node = data
        steps = path.split(".")
        for step in steps[:-1]:
            node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
        last = steps[-1]
        node[int(last) if isinstance(node, list) else last] = value
    except (ValueError, TypeError, IndexError, AttributeError) as error:
        raise SignatureError(f"the body is not a JSON object with room for {path} ({error})") from None
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
