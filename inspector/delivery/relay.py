"""`hookloupe listen`: follow a bin's event stream on a (remote) server and re-send every new
capture to a local target, in capture order, resuming after disconnects with no gap.

A URL that cannot work (no scheme, a bad port, a host that is no host name or address) is a
RelayError at once, never retried; a well-formed server that refuses or drops the connection
(restarting, briefly away) is retried for as long as the relay runs. A password in the bin URL
is sent as HTTP Basic and never shown.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from httpx_sse import connect_sse

from inspector.client import strip_userinfo
from inspector.delivery import outbound


class RelayError(Exception):
    """The relay cannot go on (malformed URL, bin deleted, password refused)."""


# One label of a host name (RFC 1123; `_` too, which some internal names carry), as ASCII.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.IGNORECASE)


def check_bin_url(url: str) -> None:
    """RelayError (never showing a password) unless `url` is an absolute http(s) URL with a
    usable host and port. No scheme is not taken to mean http://: the server may be remote, and
    its password would then travel in the clear."""
    from inspector.bins import url_problem

    without_credentials = strip_userinfo(url)
    problem = url_problem(without_credentials) or _host_problem(without_credentials)
    if problem:
        hint = " (start it with https:// or http://)" if "://" not in url else ""
        raise RelayError(f"the bin URL {problem}, not {shown_url(url)!r}{hint}")


def local_target(value: str) -> str:
    """The `--to` URL: `host:port/path` without a scheme means `http://host:port/path` (a local
    target); RelayError when it is no usable http(s) URL (credentials are refused, not shown)."""
    from inspector.bins import url_problem

    url = value if "://" in value else f"http://{value}"
    problem = url_problem(url) or _host_problem(url)
    if problem:
        raise RelayError(f"--to {problem}, not {shown_url(value)!r}")
    return url


def shown_url(url: str) -> str:
    """`url` for a message, without credentials: an http(s) URL without its `user:password@`;
    any other text with everything before its last `@` masked (it may hold a password that
    did not parse as one)."""
    try:
        parts = urlsplit(url)
        well_formed = parts.scheme in ("http", "https") and parts.port != 0
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        well_formed = False
    if well_formed or "@" not in url:
        return strip_userinfo(url)
    return "…@" + url.rsplit("@", 1)[1]


def _host_problem(url: str) -> str | None:
    """What makes the host of an otherwise valid URL unusable: neither an IP address nor a
    host name (empty labels, spaces, `%`, a leading `-`…); None when it is fine."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        labels = host.encode("idna").decode("ascii").removesuffix(".").split(".")
    except UnicodeError:
        labels = [""]
    if all(_LABEL.fullmatch(label) for label in labels):
        return None
    return "must have a host name or IP address"


def parse_bin_url(url: str) -> tuple[str, str]:
    """Split a bin's page URL (`…/bins/<bin>`) or capture URL (`…/h/<bin>[/…]`) into the
    server's base URL and the bin id; RelayError when it is neither."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        parts = urlsplit("")
    segments = parts.path.split("/")
    for marker in ("bins", "h"):
        if marker in segments:
            index = segments.index(marker)
            if index + 1 < len(segments) and segments[index + 1]:
                base_path = "/".join(segments[:index])
                return urlunsplit((parts.scheme, parts.netloc, base_path, "", "")), segments[index + 1]
    raise RelayError(f"{shown_url(url)!r} is neither a bin page (…/bins/<bin>) nor a capture URL (…/h/<bin>)")


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def _local_now() -> datetime:
    return datetime.now().astimezone()


class Relay:
    """Relays captures of one bin to `target`; `run()` returns when `should_stop()` is true.
    RelayError at once for a malformed bin URL (`check_bin_url`) or one that names no bin.
    Each printed line starts with the local time of the attempt it reports (`clock()`)."""

    def __init__(
        self,
        bin_url: str,
        target: str,
        *,
        client: httpx.Client | None = None,
        out: Callable[[str], None] = print,
        attempts: int = 4,
        retry_wait_s: float = 1.0,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        token: str | None = None,
        clock: Callable[[], datetime] = _local_now,
    ):
        check_bin_url(bin_url)
        server, self.bin_id = parse_bin_url(bin_url)
        # A password in the URL is sent as HTTP Basic and never shown: `server` is kept
        # without it (it appears in every line the relay prints).
        parts = urlsplit(server)
        auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password)) if parts.password else None
        self.server = strip_userinfo(server)
        self.target = target
        self._owns_client = client is None  # a client made here is closed when run() ends
        headers = {"Authorization": f"Bearer {token}"} if token and auth is None else {}
        self.client = client or httpx.Client(timeout=httpx.Timeout(10.0, read=60.0), auth=auth, headers=headers)
        self.out = out
        self.attempts, self.retry_wait_s, self.timeout_s = attempts, retry_wait_s, timeout_s
        self.sleep = sleep
        self.clock = clock
        self.last_id: int | None = None
        self.relayed = 0
        self.failed = 0
        # Ids already relayed, so an event seen twice (late commit, resume) is sent once.
        self._done: set[int] = set()
        self._done_order: deque[int] = deque()

    @property
    def api(self) -> str:
        return f"{self.server}/api/bins/{self.bin_id}"

    def start_point(self) -> int:
        """The newest capture id now: the relay sends what arrives after it."""
        response = self.client.get(f"{self.api}/requests", params={"limit": 1})
        self._check(response)
        newest = response.json()["requests"]
        return newest[0]["id"] if newest else 0

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 404:
            raise RelayError(f"bin {self.bin_id!r} does not exist on {self.server}")
        if response.status_code == 401:
            raise RelayError(
                "the server refused the credentials: pass --token (or set HOOKLOUPE_TOKEN),"
                " or put the password in the URL (https://user:PASSWORD@host/…)"
            )
        if response.status_code == 403:
            raise RelayError(f"the server refused: {_reason(response)}")
        response.raise_for_status()

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Follow the stream until `should_stop()`; reconnects (with Last-Event-ID) on any
        network failure or server restart. Raises RelayError only for unrecoverable cases."""
        try:
            self._run(should_stop)
        finally:
            if self._owns_client:
                self.client.close()

    def _run(self, should_stop: Callable[[], bool]) -> None:
        backoff = 0.5
        while not should_stop():
            try:
                if self.last_id is None:
                    self.last_id = self.start_point()
                    self.out(f"listening to {self.server}/bins/{self.bin_id} → {self.target} (after #{self.last_id})")
                self._follow(should_stop)
                backoff = 0.5
            except RelayError:
                raise
            except (httpx.HTTPError, OSError, ValueError) as error:
                # A well-formed server that refuses or drops the connection (restarting, away):
                # retried for as long as the relay runs.
                what = f"cannot reach {self.server}" if self.last_id is None else "connection lost"
                self.out(f"{what} ({type(error).__name__}); reconnecting in {backoff:g} s")
                self.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _follow(self, should_stop: Callable[[], bool]) -> None:
        headers = {"Last-Event-ID": str(self.last_id)}
        with connect_sse(self.client, "GET", f"{self.api}/events", headers=headers) as source:
            if source.response.status_code == 503:
                raise httpx.TransportError("server busy (503)")
            self._check(source.response)
            for event in source.iter_sse():
                if event.event == "bin_deleted":
                    raise RelayError(f"bin {self.bin_id!r} was deleted")
                if event.event == "request" and event.id:
                    self.relay(int(event.id))
                if should_stop():
                    return

    def relay(self, capture_id: int) -> None:
        """Fetch one capture and send it to the target; report one line."""
        if capture_id in self._done:
            return
        response = self.client.get(f"{self.api}/requests/{capture_id}")
        if response.status_code == 404:  # deleted or pruned before we got to it
            self.out(f"#{capture_id} is gone from the server; skipped")
        else:
            self._check(response)
            self._send(response.json())
        self._remember(capture_id)

    def _send(self, capture: dict[str, Any]) -> None:
        url = outbound.target_url(self.target, capture["path"], capture["query_string"])
        headers = outbound.forward_headers(capture["headers"], outbound.incoming_hop(capture["headers"]) + 1)
        body = base64.b64decode(capture["body_base64"])
        for attempt_no in range(1, self.attempts + 1):
            sent_at = self.clock()
            attempt = outbound.send(capture["method"], url, headers, body, timeout=self.timeout_s)
            if attempt.status_code is not None and attempt.status_code < 500:
                self.relayed += 1
                self.out(_line(sent_at, capture, str(attempt.status_code), attempt.elapsed_ms))
                return
            outcome = attempt.error or str(attempt.status_code)
            if attempt_no < self.attempts:
                self.out(_line(sent_at, capture, f"failed ({outcome}); retry {attempt_no}", attempt.elapsed_ms))
                self.sleep(self.retry_wait_s * 2 ** (attempt_no - 1))
        self.failed += 1
        self.out(_line(sent_at, capture, f"GAVE UP after {self.attempts} attempts ({outcome})", attempt.elapsed_ms))

    def _remember(self, capture_id: int) -> None:
        self._done.add(capture_id)
        self._done_order.append(capture_id)
        if len(self._done_order) > 10_000:
            self._done.discard(self._done_order.popleft())
        self.last_id = max(self.last_id or 0, capture_id)


def _line(sent_at: datetime, capture: dict[str, Any], outcome: str, elapsed_ms: int) -> str:
    """One attempt: when it was sent (`HH:MM:SS`, the clock's zone: local), capture, outcome."""
    path = (capture["path"] or "/") + (f"?{capture['query_string']}" if capture["query_string"] else "")
    return f"{sent_at:%H:%M:%S}  #{capture['id']:<6} {capture['method']:<7} {path}  → {outcome}  {elapsed_ms} ms"
