"""Rules for user input: bin names, the settings a user can change, and the text, numbers and
URLs every view reads (InvalidInput says what is wrong, in plain words)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from inspector import config
from inspector.signing import providers

CUSTOM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{2,62}")
# Names that would read as part of the product rather than a user's bin.
RESERVED_NAMES = {"api", "static", "healthz", "bins", "new", "admin"}
MAX_DELAY_MS = 30_000
MAX_REQUESTS_CEILING = 100_000
MAX_SECRET_LABEL = 100
MAX_URL = 2048
# The largest id there can be: id columns are INTEGER, 32 bits on PostgreSQL (a larger number
# in a query is an error there, not "no row"); SQLite is held to the same bound.
MAX_ID = 2**31 - 1
# What a target typed without a scheme starts with: a host name or address (IPv6 in brackets),
# then an optional numeric port, then a path, query or the end.
_HOST_FIRST = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?(?:[/?#]|$)")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# What gunicorn sends as a header value: Latin-1 text, tabs allowed, no other control character.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# Headers a bin may not set: framing and connection headers, and the ones gunicorn drops as
# hop-by-hop or replaces with its own (Date, Server); setting them would silently do nothing.
_SERVER_HEADERS = {
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "trailer",
    "trailers",
    "te",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "date",
    "server",
}


class InvalidInput(ValueError):
    """The user's input breaks a rule; the message says which, in plain words."""


@dataclass(frozen=True)
class Limits:
    """The limits on input (config.py, "Limits on input"); views pass `from_config(app.config)`."""

    response_headers: int = config.MAX_RESPONSE_HEADERS
    response_header_bytes: int = config.MAX_RESPONSE_HEADER_BYTES
    response_body_bytes: int = config.MAX_RESPONSE_BODY_BYTES
    secret_bytes: int = config.MAX_SECRET_BYTES

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> Limits:
        return cls(
            int(settings["MAX_RESPONSE_HEADERS"]),
            int(settings["MAX_RESPONSE_HEADER_BYTES"]),
            int(settings["MAX_RESPONSE_BODY_BYTES"]),
            int(settings["MAX_SECRET_BYTES"]),
        )


@dataclass(frozen=True)
class ResponseSettings:
    """What a bin answers to a capture. `body` None means the default JSON acknowledgement."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    delay_ms: int = 0


def new_bin_id() -> str:
    """A random bin id with 96 bits of entropy, URL-safe."""
    return secrets.token_urlsafe(12)


def check_custom_name(name: object) -> str:
    """Return `name` if it is an acceptable custom bin name, else raise InvalidInput."""
    if not isinstance(name, str) or not CUSTOM_NAME.fullmatch(name):
        raise InvalidInput(
            "name must be 3-63 characters of lowercase letters, digits and '-', starting with a letter or digit"
        )
    if name in RESERVED_NAMES:
        raise InvalidInput(f"name {name!r} is reserved")
    return name


def check_text(value: str, field: str) -> str:
    """`value` when the database can store it as text, else InvalidInput naming `field`: no NUL
    (PostgreSQL text refuses it; refused on SQLite too, so both behave alike) and no lone
    surrogate (JSON can spell "\\ud800"; UTF-8 cannot encode it)."""
    if "\0" in value:
        raise InvalidInput(f"{field} must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} must be valid Unicode text (no lone surrogates)") from None
    return value


def ascii_int(raw: str | None) -> int | None:
    """The integer `raw` spells in ASCII digits when it is a possible id (0 to MAX_ID), else
    None. (`str.isdigit` and `int` also accept "١٢" and fullwidth digits.)"""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def parse_response(data: object, limits: Limits = Limits()) -> ResponseSettings:
    """Validate the `response` object of PATCH /api/bins/<bin>; raise InvalidInput if wrong.

    Headers may be given as `[[name, value], ...]` or `{name: value}`. Only what the server can
    send is accepted (see `check_header`); the body is text, so it cannot hold NUL.
    """
    if not isinstance(data, dict):
        raise InvalidInput("response must be an object")
    unknown = set(data) - {"status", "headers", "body", "delay_ms"}
    if unknown:
        raise InvalidInput(f"response has unknown field(s): {', '.join(sorted(unknown))}")
    status = data.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise InvalidInput("response.status must be an integer from 200 to 599")
    delay = data.get("delay_ms", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MS:
        raise InvalidInput(f"response.delay_ms must be an integer from 0 to {MAX_DELAY_MS}")
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise InvalidInput("response.body must be a string")
    if body is not None and len(check_text(body, "response.body").encode()) > limits.response_body_bytes:
        raise InvalidInput(f"response.body must be at most {limits.response_body_bytes} bytes (UTF-8)")
    return ResponseSettings(status, _parse_headers(data.get("headers", []), limits), body, delay)


def _parse_headers(raw: object, limits: Limits) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, dict):
        raw = list(raw.items())
    if not isinstance(raw, list):
        raise InvalidInput("response.headers must be a list of [name, value] pairs or an object")
    if len(raw) > limits.response_headers:
        raise InvalidInput(f"at most {limits.response_headers} response headers")
    pairs = []
    for item in raw:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise InvalidInput("each response header must be a [name, value] pair of strings")
        name, value = check_header(item[0], item[1], "response header")
        if name.lower() in _SERVER_HEADERS:
            raise InvalidInput(f"response header {name} is set or dropped by the server and cannot be configured")
        if len(value) > limits.response_header_bytes:
            raise InvalidInput(f"response header {name} must be at most {limits.response_header_bytes} bytes")
        pairs.append((name, value))
    return tuple(pairs)


def check_header(name: str, value: str, what: str) -> tuple[str, str]:
    """`(name, value)` when it can go on the wire: the name an HTTP token, the value Latin-1
    text with no control character but tab (so no CR, LF or NUL); else InvalidInput."""
    if not _HEADER_NAME.fullmatch(name):
        raise InvalidInput(f"{what} name {name[:100]!r} is not a valid HTTP token")
    if not _HEADER_VALUE.fullmatch(value):
        raise InvalidInput(f"{what} {name} must be Latin-1 text without control characters (no line breaks or NUL)")
    return name, value


def parse_forward(data: object) -> tuple[str, bool] | None:
    """Validate the `forward` object ({url, enabled}) or null; return (url, enabled) or None."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidInput("forward must be an object {url, enabled} or null")
    url = data.get("url")
    enabled = data.get("enabled", True)
    url = check_http_url(url, "forward.url")
    if not isinstance(enabled, bool):
        raise InvalidInput("forward.enabled must be true or false")
    return url, enabled


def parse_max_requests(value: object) -> int:
    """Validate `max_requests`: an integer from 1 to MAX_REQUESTS_CEILING."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REQUESTS_CEILING:
        raise InvalidInput(f"max_requests must be an integer from 1 to {MAX_REQUESTS_CEILING}")
    return value


# An ephemeral bin lives at most a year (`expires_in_s`).
MAX_EXPIRES_IN_S = 365 * 24 * 3600


def parse_expires_in(value: object) -> int | None:
    """Validate `expires_in_s`: None (the bin does not expire) or seconds from 1 to a year."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRES_IN_S:
        raise InvalidInput(f"expires_in_s must be an integer from 1 to {MAX_EXPIRES_IN_S} (seconds)")
    return value


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host, a usable port (when one is given) and no
    credentials, whitespace or control characters."""
    return url_problem(url) is None


def url_problem(url: str) -> str | None:
    """What makes `url` unusable as a target, worded to follow its field's name; None when it
    is an absolute http(s) URL that `is_http_url` accepts."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must not contain whitespace, NUL or other control characters"
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, a host that changes under NFKC
        return "must be an absolute http:// or https:// URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL"
    if parts.username is not None:
        return "must not contain credentials"
    try:
        port = parts.port
    except ValueError:  # beyond 65535, or not a number
        port = 0
    return "must have a port from 1 to 65535" if port == 0 else None


def with_default_scheme(url: object) -> object:
    """A target written `host:port/path` (no `scheme://`) as `http://host:port/path`, as a
    developer types `localhost:3000`; anything else (not text, empty, with a scheme, a bare
    path, or `javascript:…`, whose "port" is no number) as it is, for `check_http_url` to judge."""
    if isinstance(url, str) and "://" not in url and _HOST_FIRST.match(url):
        return "http://" + url
    return url


def check_http_url(url: object, field: str) -> str:
    """`url` when it is a usable absolute http(s) URL (see `url_problem`), else InvalidInput."""
    if not isinstance(url, str):
        raise InvalidInput(f"{field} must be an absolute http:// or https:// URL")
    problem = url_problem(url)
    if problem:
        raise InvalidInput(f"{field} {problem}")
    return url


def parse_flag(value: object, name: str) -> bool:
    """A JSON boolean, else InvalidInput."""
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false")
    return value


def parse_public_base(value: object) -> str | None:
    """The public base URL senders call (`https://hooks.example.com`), or None to use BASE_URL."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("public_base_url must be an absolute http(s) URL or null")
    return check_http_url(value, "public_base_url").rstrip("/")


def parse_secret(data: dict[str, object], limits: Limits = Limits()) -> tuple[str, str, str | None]:
    """Validate `{label, value, provider?}`; return (label, value, provider)."""
    label, value, provider = data.get("label"), data.get("value"), data.get("provider")
    if not isinstance(label, str) or not 1 <= len(check_text(label, "label").strip()) <= MAX_SECRET_LABEL:
        raise InvalidInput(f"label must be a string of 1 to {MAX_SECRET_LABEL} characters")
    if not isinstance(value, str) or not value or len(check_text(value, "value").encode()) > limits.secret_bytes:
        raise InvalidInput(f"value must be a non-empty string of at most {limits.secret_bytes} bytes (UTF-8)")
    if provider is not None and (not isinstance(provider, str) or providers.get(provider) is None):
        raise InvalidInput("provider must be null or a known provider id (see docs/providers.md)")
    return label.strip(), value, provider
