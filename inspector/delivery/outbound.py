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
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from inspector.headers import first_header

HOP_HEADER = "X-Hookloupe-Hop"
MAX_RESPONSE_BODY = 1024 * 1024
# Hop-by-hop headers (RFC 9110 §7.6.1) plus those recomputed for the new connection: never
# re-sent as captured (forwarding here, the export commands in exports/formats.py).
NOT_RESENT = frozenset(
    {
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
    }
)

# Added by httpx when absent; removed again so the target sees only the captured headers.
_CLIENT_DEFAULTS = ("accept", "accept-encoding", "user-agent", "connection")

Resolver = Callable[[str, int], Sequence[str]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 blocks carrying an IPv4 address at a fixed bit offset: (block, offset, name).
_EMBEDDINGS = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), 96, "IPv4-mapped"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), 96, "IPv4-translated"),  # SIIT, RFC 2765
    (ipaddress.IPv6Network("::/96"), 96, "IPv4-compatible"),
    (ipaddress.IPv6Network("64:ff9b::/96"), 96, "NAT64"),  # RFC 6052 well-known prefix
    (ipaddress.IPv6Network("2002::/16"), 16, "6to4"),
)
# RFC 8215 local-use NAT64 prefix: the operator picks the layout, so every one is read.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


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


def resendable(captured: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """Captured header pairs a new request carries again: minus NOT_RESENT and the headers
    the Connection header names (forwarding, replay, `listen`, the export commands)."""
    pairs = [(name, value) for name, value in captured]
    named_by_connection = {
        token.strip().lower() for name, value in pairs if name.lower() == "connection" for token in value.split(",")
    }
    return [(n, v) for n, v in pairs if n.lower() not in NOT_RESENT | named_by_connection]


def forward_headers(captured: Iterable[Sequence[str]], hop: int) -> list[tuple[str, str]]:
    """The resendable captured headers, their hop count replaced by `X-Hookloupe-Hop: hop`."""
    kept = [(n, v) for n, v in resendable(captured) if n.lower() != HOP_HEADER.lower()]
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


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """Every IPv4 address an IPv6 address can lead to, named by how it is carried.

    The kernel, a NAT64 gateway, a 6to4 or Teredo relay turns these into IPv4 traffic, so a
    deny-listed IPv4 network must also refuse them. Where the layout is not fixed (NAT64
    local-use prefixes may use any RFC 6052 layout) every possible reading is returned.
    """
    value = int(ip)
    found = [
        (name, ipaddress.IPv4Address(value >> (96 - offset) & 0xFFFFFFFF))
        for block, offset, name in _EMBEDDINGS
        # :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
        if ip in block and not (name == "IPv4-compatible" and value <= 1)
    ]
    if ip in _NAT64_LOCAL:
        found += [(f"NAT64 local-use /{length}", _rfc6052_ipv4(value, length)) for length in (48, 56, 64, 96)]
    if ip.teredo:
        server, client = ip.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    return found


def _rfc6052_ipv4(value: int, prefix_length: int) -> ipaddress.IPv4Address:
    """The IPv4 address in a NAT64 address whose prefix is `prefix_length` bits (RFC 6052
    §2.2: the address follows the prefix, skipping the reserved bits 64-71)."""
    if prefix_length == 96:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    without_u = (value >> 64 << 56) | (value & ((1 << 56) - 1))  # 120 bits: the u octet removed
    return ipaddress.IPv4Address(without_u >> (120 - prefix_length - 32) & 0xFFFFFFFF)


def address_forms(ip: Address) -> list[tuple[str, Address]]:
    """`ip` itself (named "") and every other address a connection to it may reach: embedded
    IPv4 addresses, and loopback for an unspecified address (this kernel connects 0.0.0.0, ::
    and ::ffff:0.0.0.0 to itself; a relay or gateway would not, so only those count)."""
    forms: list[tuple[str, Address]] = [("", ip)]
    if isinstance(ip, ipaddress.IPv6Address):
        forms += embedded_ipv4(ip)
    local = [form for how, form in forms if how in ("", "IPv4-mapped")]
    for unspecified in [form for form in local if form.is_unspecified]:
        loopback = ipaddress.ip_address("127.0.0.1" if unspecified.version == 4 else "::1")
        forms.append(("unspecified, reaches loopback", loopback))
    return forms


def deny_forms(network: Network) -> list[Network]:
    """`network` plus the IPv4 network it stands for when written inside an IPv6 embedding
    (`::ffff:169.254.0.0/112` also denies 169.254.0.0/16 and its other spellings). A whole
    embedding block (`64:ff9b::/96`) stays IPv6-only: it denies the translation, not all IPv4."""
    forms = [network]
    if isinstance(network, ipaddress.IPv6Network):
        for block, offset, _ in _EMBEDDINGS:
            if network.prefixlen > block.prefixlen and network.subnet_of(block):
                bits = int(network.network_address) >> (96 - offset) & 0xFFFFFFFF
                length = min(network.prefixlen, offset + 32) - offset
                forms.append(ipaddress.IPv4Network((bits, length), strict=False))
    return forms


def denial(ip: Address, deny: Sequence[Network]) -> str | None:
    """Why a connection to `ip` is refused (the form that matched and the deny entry), or None
    when every form of `ip` is outside every denied network."""
    for how, form in address_forms(ip):
        for network in deny:
            for denied in deny_forms(network):
                if form.version == denied.version and form in denied:
                    carried = f" ({how}: {form})" if how else ""
                    given = "" if denied == network else f" (= {denied})"
                    return f"{ip}{carried}, in the denied network {network}{given}"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (TCP). Numeric hosts in any form inet_aton accepts
    (`2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`, `127.1`) come back dotted-quad."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # The address is text (typeshed also allows the int of a Python built without IPv6).
    return list(dict.fromkeys(cast(str, info[4][0]) for info in infos))


def checked_address(url: str, deny: Sequence[Network], resolve: Resolver = system_resolver) -> str:
    """Resolve the URL's host and return one address to connect to; raise TargetRefusedError
    when the URL is unusable (scheme, host, port) or any resolved address, in any of its
    forms (see `address_forms`), is in a denied network (see `deny_forms`)."""
    parts, port = _split_target(url)
    host = cast(str, parts.hostname)
    try:
        answers = resolve(host, port)
    except (OSError, ValueError) as error:  # ValueError: UnicodeError from IDNA, NUL in the name
        raise TargetRefusedError(f"cannot resolve {host}: {error}") from None
    if not answers:
        raise TargetRefusedError(f"{host} resolves to no address")
    addresses = [_parse_answer(host, answer) for answer in answers]
    for ip in addresses:
        reason = denial(ip, deny)
        if reason is not None:
            subject = "" if host == str(ip) else f"{host} resolves to "
            raise TargetRefusedError(f"{subject}{reason} (HOOKLOUPE_FORWARD_DENY)")
    return str(addresses[0])


def _split_target(url: str) -> tuple[SplitResult, int]:
    """The URL's parts and port; TargetRefusedError when it is not http(s) with a host and a
    port from 1 to 65535 (urlsplit raises ValueError for a bad port or bracketed host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefusedError(f"{url!r} is not a usable URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefusedError(f"{url!r} is not an absolute http(s) URL")
    if port == 0:
        raise TargetRefusedError(f"{url!r} has port 0, which cannot be connected to")
    return parts, port or (443 if parts.scheme == "https" else 80)


def _parse_answer(host: str, answer: str) -> Address:
    """A resolver's answer as an address (any `%scope` suffix dropped)."""
    try:
        return ipaddress.ip_address(answer.split("%")[0])
    except ValueError:
        raise TargetRefusedError(f"{host} resolved to {answer!r}, which is not an IP address") from None


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
    try:
        with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False) as client:
            try:
                request = _pinned_request(client, method, url, address, headers, body)
            except (httpx.InvalidURL, UnicodeError) as error:
                # The same bytes can never be sent: permanent, like a deny-listed target.
                return failed(f"refused: cannot build the request: {error}")
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


def _pinned_request(
    client: httpx.Client, method: str, url: str, address: str, headers: Sequence[tuple[str, str]], body: bytes
) -> httpx.Request:
    """The request for `url` addressed to the checked `address`, so no second DNS lookup can
    pick another one; Host (IDNA) and TLS SNI carry the URL's name. Header text goes out as
    UTF-8 (`_wire_bytes`); client defaults the captured request lacked are removed again.
    Raises httpx.InvalidURL or UnicodeError for a request that cannot be written."""
    parts = urlsplit(url)
    netloc_ip = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc_ip += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc_ip, parts.path or "/", parts.query, ""))
    host = parts.netloc.rsplit("@", 1)[-1]
    host_bytes = host.encode("ascii") if host.isascii() else host.encode("idna")
    out_headers = [(_wire_bytes(n), _wire_bytes(v)) for n, v in headers if n.lower() != "host"]
    request = client.build_request(
        method,
        pinned,
        headers=[*out_headers, (b"Host", host_bytes)],
        content=body,
        extensions={"sni_hostname": parts.hostname} if parts.scheme == "https" else {},
    )
    sent_names = {name.lower() for name, _ in headers}
    for name in _CLIENT_DEFAULTS:
        if name not in sent_names and name in request.headers:
            del request.headers[name]
    return request


def _wire_bytes(text: str) -> bytes:
    """A header name or value as bytes: UTF-8, the bytes capture most often decoded it from
    (capture/request.py keeps UTF-8 as text; the rarer latin-1 fallback is indistinguishable
    once stored). httpx itself would raise on anything beyond ASCII."""
    return text.encode("utf-8")


def _read_capped(response: httpx.Response) -> bytes:
    """The response body as sent (not decompressed), at most MAX_RESPONSE_BODY bytes."""
    parts, size = [], 0
    for chunk in response.iter_raw():
        parts.append(chunk[: MAX_RESPONSE_BODY - size])
        size += len(parts[-1])
        if size >= MAX_RESPONSE_BODY:
            break
    return b"".join(parts)
