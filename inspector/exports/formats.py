"""One capture as text that sends it again, byte-exact, to its own capture URL (DESIGN §4).

`resend_of(row, capture_url)` is what is sent: the method; the URL (the bin's capture URL, the
captured sub-path and the raw query string); the headers as captured, minus hop-by-hop ones,
`Host` and `Content-Length` (DESIGN's forwarding semantics: the client computes those); the
exact body bytes. `render(format, resend)` writes it as:

- `curl`: one shell command. A body of plain text is `--data-raw '…'`; any other body (NUL,
  0xFF, gzip, CR) is piped in by a `printf` of octal escapes to `--data-binary @-`. Headers
  curl adds on its own (Accept, User-Agent, Content-Type for a body, Expect) are switched off
  when the capture had none; `--globoff` and `--path-as-is` keep `[]{}` and `/../` as sent.
- `httpie`: `printf … | http --path-as-is METHOD URL 'Name:value' …`, HTTPie's own defaults
  switched off the same way (`--ignore-stdin` when there is no body).
- `httpx`: a Python snippet (literals by `repr`: exact, and never code).
- `http`: the raw HTTP/1.1 request (its `Host` and `Content-Length` recomputed).

Quoting: see shell.py; nothing captured can end a quote. What cannot be sent as captured is
changed, never passed on raw: a header value's CR, LF or NUL (only an import can store one)
becomes a space; a header name that is not an HTTP token is left out; characters a URL cannot
hold (space, `#`, controls, non-ASCII) are percent-encoded, and `?` in a sub-path too. HTTPie
reads `\\` before `:`, `;`, `=` or `@` in a header value as an escape: such a value loses that
backslash there (its syntax has no way to keep it). HTTPie and httpx parse the URL themselves:
they percent-encode `[ ] { }` (the decoded path and query stay the same) and httpx removes `/../`
segments; curl sends the URL as written. A binary body costs four characters a byte in a shell
command: for one of megabytes the raw body download (`/raw`) with `--data-binary @FILE` is handier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit

from inspector.delivery.outbound import resendable
from inspector.exports.shell import command, is_plain_text, printf_bytes, printf_text, quote
from inspector.models import Capture

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_UNSENDABLE = str.maketrans({"\r": " ", "\n": " ", "\0": " "})
# What stays as it is in a URL: printable ASCII but space and `#` (and `?` in a path); `%`
# stays, so a sub-path or query captured percent-encoded is sent as it arrived.
_URL_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in "#%")
_PATH_SAFE = _URL_SAFE.replace("?", "") + "%"
_QUERY_SAFE = _URL_SAFE + "%"


@dataclass(frozen=True)
class Resend:
    """What re-sending a capture sends: `url` (absolute), `host` (its authority), `target` (its
    path and query), `headers` in captured order, `body`."""

    method: str
    url: str
    host: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def has(self, name: str) -> bool:
        wanted = name.lower()
        return any(key.lower() == wanted for key, _ in self.headers)


def resend_of(row: Capture, capture_url: str) -> Resend:
    """What re-sending `row` to `capture_url` (`…/h/<bin>`) sends (see the module docstring)."""
    path = url_quote(row.path, safe=_PATH_SAFE)
    query = url_quote(row.query_string, safe=_QUERY_SAFE)
    url = capture_url + path + (f"?{query}" if query else "")
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{query}" if query else "")
    return Resend(row.method, url, parts.netloc, target, sendable_headers(row.headers), row.body)


def sendable_headers(pairs: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """The captured header pairs a client sends again: not hop-by-hop (nor named by
    `Connection`), not Host or Content-Length, names that are tokens, values without CR/LF/NUL."""
    return tuple((name, value.translate(_UNSENDABLE)) for name, value in resendable(pairs) if _TOKEN.fullmatch(name))


def as_curl(resend: Resend) -> str:
    """A curl command (see the module docstring)."""
    body, method = resend.body, resend.method
    first = ["curl", "--globoff", "--path-as-is"]
    if method == "HEAD" and not body:
        first.append("--head")
    elif method != ("POST" if body else "GET"):
        first += ["-X", quote(method)]
    lines = [" ".join([*first, quote(resend.url)])]
    for name, value in resend.headers:
        lines.append("-H " + quote(f"{name}: {value}" if value else f"{name};"))
    defaults = ["Accept", "User-Agent"] + (["Content-Type", "Expect"] if body else [])
    off = [f"-H {quote(name + ':')}" for name in defaults if not resend.has(name)]
    if off:
        lines.append(" ".join(off))
    if not body:
        return command(lines)
    if is_plain_text(body):
        lines.append("--data-raw " + quote(body.decode("utf-8")))
        return command(lines)
    lines.append("--data-binary @-")
    return command(lines, stdin=printf_bytes(body))


def _httpie_value(value: str) -> str:
    """A header value as HTTPie reads it back: its separator characters escaped."""
    return re.sub(r"([:;=@])", r"\\\1", value)


# What HTTPie sends unless told not to.
_HTTPIE_DEFAULTS = ("Accept", "Accept-Encoding", "Connection", "User-Agent")


def as_httpie(resend: Resend) -> str:
    """An HTTPie command (see the module docstring)."""
    body = resend.body
    first = ["http", "--path-as-is"] + ([] if body else ["--ignore-stdin"])
    lines = [" ".join([*first, quote(resend.method), quote(resend.url)])]
    for name, value in resend.headers:
        lines.append(quote(f"{name}:{_httpie_value(value)}" if value else f"{name};"))
    defaults = [*_HTTPIE_DEFAULTS, *(["Content-Type"] if body else [])]
    off = [quote(name + ":") for name in defaults if not resend.has(name)]
    if off:
        lines.append(" ".join(off))
    if not body:
        return command(lines)
    feed = printf_text(body.decode("utf-8")) if is_plain_text(body) else printf_bytes(body)
    return command(lines, stdin=feed)


# What httpx sends unless told not to (`httpx.Client` defaults).
_HTTPX_DEFAULTS = ("Accept", "Accept-Encoding", "Connection", "User-Agent")


def as_httpx(resend: Resend) -> str:
    """A Python snippet sending it with httpx; every captured value is a `repr` literal."""
    if not resend.body:
        body = 'b""'
    elif is_plain_text(resend.body):
        body = f"{resend.body.decode('utf-8')!r}.encode()"
    else:
        body = repr(resend.body)
    headers = "".join(f"    ({name!r}, {value!r}),\n" for name, value in resend.headers)
    off = tuple(name for name in _HTTPX_DEFAULTS if not resend.has(name))
    lines = [
        "import httpx",
        "",
        f"method = {resend.method!r}",
        f"url = {resend.url!r}",
        f"headers = [\n{headers}]" if headers else "headers = []",
        f"body = {body}",
        "",
        "with httpx.Client() as client:",
        "    # Header values go out as UTF-8, as captured; the URL is sent as written.",
        "    encoded = [(name, value.encode()) for name, value in headers]",
        "    request = client.build_request(method, url, headers=encoded, content=body)",
    ]
    if off:
        lines += [
            "    # httpx's own default headers, which the captured request did not carry:",
            f"    for name in {off!r}:",
            "        del request.headers[name]",
        ]
    lines += ["    response = client.send(request)", "print(response.status_code, response.text)", ""]
    return "\n".join(lines)


def as_http(resend: Resend) -> bytes:
    """The raw HTTP/1.1 request: request line, Host, the headers, Content-Length, the body."""
    lines = [f"{resend.method} {resend.target} HTTP/1.1", f"Host: {resend.host}"]
    lines += [f"{name}: {value}" for name, value in resend.headers]
    if resend.body or resend.method not in ("GET", "HEAD", "OPTIONS", "DELETE", "TRACE", "CONNECT"):
        lines.append(f"Content-Length: {len(resend.body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("utf-8", "replace") + resend.body


@dataclass(frozen=True)
class Format:
    """One export format: its name in the page, and how it writes a Resend."""

    label: str
    write: Callable[[Resend], str | bytes]


FORMATS: dict[str, Format] = {
    "curl": Format("cURL", as_curl),
    "httpie": Format("HTTPie", as_httpie),
    "httpx": Format("Python httpx", as_httpx),
    "http": Format("raw HTTP", as_http),
}


def render(name: str, resend: Resend) -> bytes:
    """`resend` in format `name` (a key of FORMATS; KeyError otherwise), as UTF-8 bytes (the raw
    request's body as it is)."""
    written = FORMATS[name].write(resend)
    return written if isinstance(written, bytes) else written.encode("utf-8", "replace")
