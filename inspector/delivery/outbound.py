"""The one module that sends HTTP out: forwarding semantics, the deny-list, and the attempt.

Errors come back as values (`Attempt.error`), never as exceptions: a refused, unreachable
or slow target is a normal outcome of a delivery.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import httpx

from inspector.headers import first_header

HOP_HEADER = "X-Hookloupe-Hop"
MAX_RESPONSE_BODY = 1024 * 1024
# Hop-by-hop headers (RFC 9110 §7.6.1) plus those recomputed for the new connection.
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    HOP_HEADER.lower(),
}
# Added by httpx when absent; removed again so the target sees only the captured headers.
_CLIENT_DEFAULTS = ("accept", "accept-encoding", "user-agent", "connection")

Resolver = Callable[[str, int], Sequence[str]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Attempt:
    """The outcome of one send: a status and response, or an error sentence."""

    url: str
    status_code: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes
    elapsed_ms: int
    error: str | None


class TargetRefusedError(ValueError):
    """The target may not be called (deny-listed address, bad URL); the message says why."""


def target_url(base: str, path: str, query_string: str) -> str:
    """The forwarding URL: `base` + captured sub-path + captured query (after base's own)."""
    parts = urlsplit(base)
    joined = parts.path.rstrip("/") + path if path else parts.path
    query = "&".join(q for q in (parts.query, query_string) if q)
    return urlunsplit((parts.scheme, parts.netloc, joined or "/", query, ""))


def forward_headers(captured: Iterable[Sequence[str]], hop: int) -> list[tuple[str, str]]:
    """Captured header pairs minus hop-by-hop ones (and those the Connection header names),
    plus `X-Hookloupe-Hop: hop`."""
    pairs = [(name, value) for name, value in captured]
    named_by_connection = {
        token.strip().lower() for name, value in pairs if name.lower() == "connection" for token in value.split(",")
    }
    kept = [(n, v) for n, v in pairs if n.lower() not in _NOT_FORWARDED | named_by_connection]
    return [*kept, (HOP_HEADER, str(hop))]


def incoming_hop(headers: Iterable[Sequence[str]]) -> int:
    """The hop count a capture arrived with (0 when it carried no hop header)."""
    value = first_header(headers, HOP_HEADER)
    if value is None:
        return 0
    return int(value) if value.strip().isdigit() else 1


def parse_deny(spec: str | None) -> list[Network]:
    """Parse a comma-separated list of networks; raise ValueError naming a bad entry."""
    networks: list[Network] = []
    for item in (spec or "").split(","):
        if item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return networks


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # The address is text (typeshed also allows the int of a Python built without IPv6).
    return list(dict.fromkeys(cast(str, info[4][0]) for info in infos))


def checked_address(url: str, deny: Sequence[Network], resolve: Resolver = system_resolver) -> str:
    """Resolve the URL's host and return one address to connect to; raise TargetRefusedError
    when the URL is unusable or any resolved address is in a denied network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefusedError(f"{url!r} is not an absolute http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(parts.hostname, port)
    except OSError as error:
        raise TargetRefusedError(f"cannot resolve {parts.hostname}: {error}") from None
    if not addresses:
        raise TargetRefusedError(f"{parts.hostname} resolves to no address")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        for network in deny:
            if ip.version == network.version and ip in network:
                raise TargetRefusedError(
                    f"{parts.hostname} resolves to {ip}, in the denied network {network} (HOOKLOUPE_FORWARD_DENY)"
                )
    return addresses[0]


def send(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    timeout: float,
    deny: Sequence[Network] = (),
    resolve: Resolver = system_resolver,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Attempt:
    """Send one request and return the Attempt. The host is resolved and checked against
    `deny`, then the connection goes to that checked address (no second lookup an attacker's
    DNS could answer differently); Host and TLS SNI keep the original name."""
    started = clock()

    def failed(message: str) -> Attempt:
        return Attempt(url, None, (), b"", int((clock() - started) * 1000), message)

    try:
        address = checked_address(url, deny, resolve)
    except TargetRefusedError as error:
        return failed(f"refused: {error}")
    parts = urlsplit(url)
    netloc_ip = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc_ip += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc_ip, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    out_headers = [(n, v) for n, v in headers if n.lower() != "host"] + [("Host", host_header)]
    try:
        with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False) as client:
            request = client.build_request(
                method,
                pinned,
                headers=out_headers,
                content=body,
                extensions={"sni_hostname": parts.hostname} if parts.scheme == "https" else {},
            )
            sent_names = {name.lower() for name, _ in headers}
            for name in _CLIENT_DEFAULTS:
                if name not in sent_names and name in request.headers:
                    del request.headers[name]
            response = client.send(request, stream=True)
            try:
                body_out = _read_capped(response)
            finally:
                response.close()
    except httpx.TimeoutException:
        return failed(f"timed out after {timeout:g} s")
    except httpx.HTTPError as error:
        return failed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    return Attempt(
        url,
        response.status_code,
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw),
        body_out,
        int((clock() - started) * 1000),
        None,
    )


def _read_capped(response: httpx.Response) -> bytes:
    """The response body as sent (not decompressed), at most MAX_RESPONSE_BODY bytes."""
    parts, size = [], 0
    for chunk in response.iter_raw():
        parts.append(chunk[: MAX_RESPONSE_BODY - size])
        size += len(parts[-1])
        if size >= MAX_RESPONSE_BODY:
            break
    return b"".join(parts)
