"""Turn one raw inbound HTTP request (a WSGI environ) into an immutable `CapturedRequest`.

This is the only module that reads the inbound request. It reads the body with a bound
before anything could parse it, and hands on plain data: everything downstream is a plain
function of a `CapturedRequest` (or of the stored row it becomes).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import IO, TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from gunicorn.http.errors import ParseException
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import get_input_stream

from inspector.headers import first_header

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# Read the body in pieces of this size: large enough to be fast, small enough to stay bounded.
_READ_CHUNK = 64 * 1024
# After the limit we still drain (and count) the rest so the true size is known and the
# client can read our 413; past this many bytes we stop reading and give up on the count.
_DRAIN_CAP = 1024 * 1024 * 1024

# What reading a body can raise when the client stops early or breaks the chunked framing
# (gunicorn's parser errors, Werkzeug's disconnect, socket errors and timeouts).
_BODY_ENDED = (ParseException, ClientDisconnected, OSError, ValueError)

# CGI variables that are HTTP headers but carry no HTTP_ prefix in a WSGI environ.
_UNPREFIXED_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


@dataclass(frozen=True)
class CapturedRequest:
    """One request exactly as it arrived (within what WSGI preserves).

    `path` is the sub-path after `/h/<bin>`, percent-encoded as sent: `""` for `/h/<bin>`,
    `"/"` for `/h/<bin>/`. `headers` are `(name, value)` pairs in arrival order.
    `body_size` is the true size even when `body` was cut at the limit (`body_truncated`).
    `body_incomplete`: the body ended before its Content-Length or its chunked framing said it
    would (the client stopped or broke the framing); `body` is what arrived.
    """

    method: str
    path: str
    query_string: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    body_size: int
    body_truncated: bool
    remote_addr: str
    received_at: datetime
    content_type: str = ""
    body_incomplete: bool = False

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None when absent."""
        return first_header(self.headers, name)

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query pairs in order, repeats and blank values kept."""
        return query_pairs(self.query_string)


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """Decode a raw query string into `(name, value)` pairs; repeats and blanks are kept."""
    return parse_qsl(query_string, keep_blank_values=True)


def _wsgi_text(value: str) -> str:
    """WSGI hands bytes on as latin-1 text; recover UTF-8 text where the bytes were UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def header_pairs(environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
    """Header pairs in the order the WSGI server recorded them (arrival order under gunicorn).

    WSGI upper-cases names and the server joins repeated headers with ","; names are
    rebuilt in the conventional Title-Case (see README, known limits).
    """
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = _header_name(key)
        elif key in _UNPREFIXED_HEADERS:
            if not value:
                continue
            name = _UNPREFIXED_HEADERS[key]
        else:
            continue
        pairs.append((name, value if value.isascii() else _wsgi_text(value)))
    return tuple(pairs)


@lru_cache(maxsize=4096)
def _header_name(environ_key: str) -> str:
    """`HTTP_X_GITHUB_EVENT` → `X-Github-Event` (the same few names recur: cached)."""
    return "-".join(part.capitalize() for part in environ_key[5:].split("_"))


@dataclass(frozen=True)
class Body:
    """A body as read: `data` (at most the limit), its true `size`, whether `data` was cut at the
    limit (`truncated`) and whether the body ended early (`incomplete`)."""

    data: bytes
    size: int
    truncated: bool
    incomplete: bool = False


def read_body(stream: IO[bytes], limit: int, declared: int | None = None) -> Body:
    """Read at most `limit` bytes from `stream`, then drain the rest to learn the true size.

    Draining stops after `_DRAIN_CAP` bytes; the size reported is then the count read so far (a
    lower bound). The body is `incomplete` when reading fails (broken chunked framing, a reset)
    or ends before `declared` bytes (Content-Length) arrived: what arrived is kept.
    """
    parts: list[bytes] = []
    size = 0
    failed = False
    try:
        while size < _DRAIN_CAP:
            piece = stream.read(_READ_CHUNK if size > limit else min(_READ_CHUNK, limit + 1 - size))
            if not piece:
                break
            if size <= limit:
                parts.append(piece)
            size += len(piece)
    except _BODY_ENDED:
        failed = True
    data = b"".join(parts)
    incomplete = failed or (declared is not None and size < min(declared, _DRAIN_CAP))
    return Body(data[:limit], size, size > limit, incomplete)


def client_address(environ: WSGIEnvironment, trusted_proxies: int) -> str:
    """The client's address: `REMOTE_ADDR`, or with `trusted_proxies` = n the n-th address
    from the right of `X-Forwarded-For` (the one our own outermost proxy saw).

    A forwarded value that is not an IP address is ignored (hostile input).
    """
    remote = environ.get("REMOTE_ADDR", "") or ""
    if trusted_proxies <= 0:
        return remote
    forwarded = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < trusted_proxies:
        return remote
    candidate = forwarded[-trusted_proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def raw_path(environ: WSGIEnvironment) -> str:
    """The request path as sent (still percent-encoded) when the server kept it, else
    PATH_INFO re-encoded. gunicorn and the Werkzeug server keep `RAW_URI`/`REQUEST_URI`."""
    raw: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = raw.split("?", 1)[0]
        if path.startswith(("http://", "https://")):  # absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path
    return quote(environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=-._~%")


def sub_path(full_path: str, bin_id: str) -> str:
    """What follows `/h/<bin_id>` in `full_path` (`""` when nothing does)."""
    prefix = f"/h/{bin_id}"
    return full_path[len(prefix) :] if full_path.startswith(prefix) else full_path


def capture_request(
    environ: WSGIEnvironment, bin_id: str, *, max_body_bytes: int, trusted_proxies: int, received_at: datetime
) -> CapturedRequest:
    """Build the `CapturedRequest` for a WSGI request addressed to `/h/<bin_id>...`.

    Reads the body from `wsgi.input` (bounded by `max_body_bytes`); must run before anything
    else touches the input stream.
    """
    body = read_body(_input_stream(environ), max_body_bytes, _declared_length(environ))
    return CapturedRequest(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=sub_path(raw_path(environ), bin_id),
        query_string=_wsgi_text(environ.get("QUERY_STRING", "")),
        headers=header_pairs(environ),
        body=body.data,
        body_size=body.size,
        body_truncated=body.truncated,
        body_incomplete=body.incomplete,
        remote_addr=client_address(environ, trusted_proxies),
        received_at=received_at,
        content_type=environ.get("CONTENT_TYPE", "") or "",
    )


def _input_stream(environ: WSGIEnvironment) -> IO[bytes]:
    """The body stream, bounded by Content-Length unless the server marked it terminated
    (chunked bodies under gunicorn); Werkzeug's helper makes exactly that choice."""
    return get_input_stream(environ, safe_fallback=False)


def _declared_length(environ: WSGIEnvironment) -> int | None:
    """The Content-Length the client declared (the server already refused malformed ones)."""
    value = environ.get("CONTENT_LENGTH", "")
    return int(value) if value and value.isascii() and value.isdigit() else None
