"""Rules for bins: names, and validation of the settings a user can change."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from inspector.signing import providers

CUSTOM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{2,62}")
# Names that would read as part of the product rather than a user's bin.
RESERVED_NAMES = {"api", "static", "healthz", "bins", "new", "admin"}
MAX_DELAY_MS = 30_000
MAX_REQUESTS_CEILING = 100_000
MAX_RESPONSE_BODY = 1024 * 1024
MAX_SECRET_CHARS = 4096
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers that describe framing or the connection; a bin may not set them.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer"}


class InvalidInput(ValueError):
    """The user's input breaks a rule; the message says which, in plain words."""


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


def parse_response(data: object) -> ResponseSettings:
    """Validate the `response` object of PATCH /api/bins/<bin>; raise InvalidInput if wrong.

    Headers may be given as `[[name, value], ...]` or `{name: value}`.
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
    if body is not None and len(body.encode()) > MAX_RESPONSE_BODY:
        raise InvalidInput("response.body must be at most 1 MiB")
    return ResponseSettings(status, _parse_headers(data.get("headers", [])), body, delay)


def _parse_headers(raw: object) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, dict):
        raw = list(raw.items())
    if not isinstance(raw, list):
        raise InvalidInput("response.headers must be a list of [name, value] pairs or an object")
    pairs = []
    for item in raw:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise InvalidInput("each response header must be a [name, value] pair of strings")
        name, value = item
        if not _HEADER_NAME.fullmatch(name):
            raise InvalidInput(f"response header name {name!r} is not a valid HTTP token")
        if name.lower() in _FRAMING_HEADERS:
            raise InvalidInput(f"response header {name} is set by the server and cannot be configured")
        if any(ch in value for ch in "\r\n\0"):
            raise InvalidInput(f"response header {name} must not contain line breaks or NUL")
        pairs.append((name, value))
    if len(pairs) > 50:
        raise InvalidInput("at most 50 response headers")
    return tuple(pairs)


def parse_forward(data: object) -> tuple[str, bool] | None:
    """Validate the `forward` object ({url, enabled}) or null; return (url, enabled) or None."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidInput("forward must be an object {url, enabled} or null")
    url = data.get("url")
    enabled = data.get("enabled", True)
    if not isinstance(url, str) or not is_http_url(url):
        raise InvalidInput("forward.url must be an absolute http:// or https:// URL")
    if not isinstance(enabled, bool):
        raise InvalidInput("forward.enabled must be true or false")
    return url, enabled


def parse_max_requests(value: object) -> int:
    """Validate `max_requests`: an integer from 1 to MAX_REQUESTS_CEILING."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REQUESTS_CEILING:
        raise InvalidInput(f"max_requests must be an integer from 1 to {MAX_REQUESTS_CEILING}")
    return value


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and no credentials or whitespace."""
    if any(ch.isspace() for ch in url) or len(url) > 2048:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None


def parse_flag(value: object, name: str) -> bool:
    """A JSON boolean, else InvalidInput."""
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false")
    return value


def parse_public_base(value: object) -> str | None:
    """The public base URL senders call (`https://hooks.example.com`), or None to use BASE_URL."""
    if value is None:
        return None
    if not isinstance(value, str) or not is_http_url(value):
        raise InvalidInput("public_base_url must be an absolute http(s) URL or null")
    return value.rstrip("/")


def parse_secret(data: dict[str, object]) -> tuple[str, str, str | None]:
    """Validate `{label, value, provider?}`; return (label, value, provider)."""
    label, value, provider = data.get("label"), data.get("value"), data.get("provider")
    if not isinstance(label, str) or not 1 <= len(label.strip()) <= 100:
        raise InvalidInput("label must be a string of 1 to 100 characters")
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_CHARS:
        raise InvalidInput(f"value must be a non-empty string of at most {MAX_SECRET_CHARS} characters")
    if provider is not None and (not isinstance(provider, str) or providers.get(provider) is None):
        raise InvalidInput("provider must be null or a known provider id (see docs/providers.md)")
    return label.strip(), value, provider
