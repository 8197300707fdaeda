"""Readings of the body and URL a sender may have signed instead of the exact bytes received."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit, urlunsplit

from inspector.signing.schemes.message import Message


def body_variant(msg: Message, variant: str) -> bytes | None:
    """The body as signed under `variant`; None when the variant does not apply."""
    body = msg.body
    if variant == "raw":
        return body
    if variant == "strip-newline":
        stripped = body.rstrip(b"\r\n")
        return stripped if stripped != body else None
    if variant == "add-newline":
        return body + b"\n"
    if variant == "compact-json":
        if msg.json is None:
            return None
        compact = json.dumps(msg.json, separators=(",", ":"), ensure_ascii=False).encode()
        return compact if compact != body else None
    if variant == "escape-unicode":
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return None
        escaped = escape_unicode(text).encode()
        return escaped if escaped != body else None
    raise ValueError(f"unknown body variant {variant!r}")


BODY_VARIANT_NAMES = {
    "raw": "the raw body",
    "strip-newline": "the body without its trailing newline",
    "add-newline": "the body with a trailing newline added",
    "compact-json": "the body re-serialized as compact JSON",
    "escape-unicode": "the body with non-ASCII characters \\u-escaped",
}

_LONE_BACKSLASH = re.compile(r"\\(?!/)")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_unicode(text: str) -> str:
    """`text` as Box's SDK re-escapes a body before its second try: every backslash not
    before `/` doubled, newline/CR/tab as `\\n`/`\\r`/`\\t`, any other character outside
    printable ASCII as `\\uXXXX` (lower-case hex; UTF-16 surrogate pairs above U+FFFF)."""

    def one(found: re.Match[str]) -> str:
        char = found.group(0)
        if char in _SHORT_ESCAPES:
            return _SHORT_ESCAPES[char]
        code = ord(char)
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return _NOT_PRINTABLE_ASCII.sub(one, _LONE_BACKSLASH.sub(r"\\\\", text))


def url_variant(url: str, variant: str) -> str | None:
    """`url` under `variant` (port toggled, scheme swapped, query dropped...); None if moot."""
    if variant == "as-sent":
        return url
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if variant == "toggle-port":
        if parts.port is not None and parts.port == default:
            return urlunsplit(parts._replace(netloc=parts.hostname or ""))
        if parts.port is None and default and parts.hostname:
            return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{default}"))
        return None
    if variant == "swap-scheme":
        other = {"https": "http", "http": "https"}.get(parts.scheme)
        return urlunsplit(parts._replace(scheme=other)) if other else None
    if variant == "no-query":
        return urlunsplit(parts._replace(query="")) if parts.query else None
    if variant == "without-port":  # Twilio's SDK: any explicit port removed
        if parts.port is None:
            return url
        return urlunsplit(parts._replace(netloc=parts.netloc.split(":")[0]))
    if variant == "with-port":  # Twilio's SDK: the scheme's default port added when none is given
        if parts.port is not None:
            return url
        return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{443 if parts.scheme == 'https' else 80}"))
    if variant == "toggle-slash":
        path = parts.path[:-1] if parts.path.endswith("/") else parts.path + "/"
        return urlunsplit(parts._replace(path=path))
    raise ValueError(f"unknown URL variant {variant!r}")


URL_VARIANT_NAMES = {
    "as-sent": "the URL as called",
    "toggle-port": "the URL with the default port added or removed",
    "swap-scheme": "the URL with http and https swapped",
    "no-query": "the URL without its query string",
    "toggle-slash": "the URL with a trailing slash added or removed",
    "without-port": "the URL without its port",
    "with-port": "the URL with its default port",
}
