"""A Python client of a Hookloupe server: make bins, wait for captures that match, read them.

    from inspector.client import Client

    with Client("http://127.0.0.1:8000") as client, client.create_bin(expires_in_s=600) as bin_:
        ...  # make your app send a webhook to bin_.url
        capture = bin_.wait_for(timeout=10, provider="stripe", verdict="valid")
        assert capture.json()["type"] == "payment_intent.succeeded"

A password in the server URL (`http://user:PASSWORD@host`) is sent as HTTP Basic, a `token` as
`Authorization: Bearer`; neither ever appears in a URL this module shows, a repr or an error.

Exceptions:

    HookloupeError             the server refused a call (`.status` is its HTTP status) or could not
    │                          be reached (`.status` is None)
    ├── BinGoneError           the bin does not exist (404) or has expired (410)
    └── WaitTimeoutError       `Bin.wait_for` saw no matching capture in time; also an AssertionError,
                               so a test fails (not errors) with a message that lists the near misses
                               (`.near_misses`, as the server sent them) and what each one missed
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from inspector.client_shapes import Capture, describe_matchers, matcher_params, near_miss_line

__all__ = ["Bin", "BinGoneError", "Capture", "Client", "HookloupeError", "WaitTimeoutError", "strip_userinfo"]

# The server holds one wait for at most this long; a longer wait_for is several in a row.
MAX_SERVER_WAIT_S = 60
# Extra read time over a server wait before the connection counts as lost.
_WAIT_READ_MARGIN_S = 15.0
# Connection failures (or 503s) in a row that a wait survives, and the pause after each.
WAIT_RETRIES = 3
_RETRY_PAUSE_S = 0.5
# The server's largest page of a list.
_MAX_PAGE = 500
# Near misses shown in a timeout message.
_NEAR_MISSES_SHOWN = 5


class HookloupeError(Exception):
    """A call the server refused (`status` is its HTTP status) or could not answer (`status` is
    None: connection refused, timed out, reset). The message never holds a password or token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BinGoneError(HookloupeError):
    """The bin does not exist (404) or has expired (410)."""


class WaitTimeoutError(HookloupeError, AssertionError):
    """No capture matched within the timeout. `near_misses`: the newest captures examined, as the
    server described them (`id`, `method`, `path`, `received_at`, `missed`: reasons)."""

    def __init__(self, message: str, near_misses: list[dict[str, Any]]) -> None:
        super().__init__(message, None)
        self.near_misses = near_misses


def strip_userinfo(url: str) -> str:
    """`url` without its `user:password@` part (for showing it); other text is returned as is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class Client:
    """A connection to one Hookloupe server. `url` is its base (`http://host:port[/prefix]`), and
    may carry `user:password@` (sent as HTTP Basic); else `token`, when given, is sent as a
    Bearer token. `timeout` (seconds) bounds every call except waits, which get their own.
    `redacted=True` has the server redact every capture it answers with the bin's rules.
    `transport` replaces httpx's network (tests). Use as a context manager, or call `close()`."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        redacted: bool = False,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HookloupeError(f"{strip_userinfo(url)!r} is not an http(s) URL of a Hookloupe server")
        password = unquote(parts.password) if parts.password else None
        self.url = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path.rstrip("/"), "", ""))
        self.timeout = timeout
        self._secrets = [s for s in (password, token) if s]
        headers: dict[str, str] = {}
        auth = None
        if password:  # bound to this URL, it is more specific than a token (often from the environment)
            user = unquote(parts.username or "") or "hookloupe"
            auth = httpx.BasicAuth(user, password)
            self._secrets.append(base64.b64encode(f"{user}:{password}".encode()).decode())
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        # `redacted`: the server applies each bin's redaction rules to every capture it answers
        # (`redact=true`, which every route ignores but those that answer captures).
        params = {"redact": "true"} if redacted else None
        self._http = httpx.Client(
            base_url=self.url, auth=auth, headers=headers, params=params, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections; the Bin objects of this client stop working."""
        self._http.close()

    def healthy(self) -> bool:
        """True when the server answers /healthz with ok (its database works); never raises."""
        try:
            response = self._http.get("/healthz")
            return response.status_code == 200 and response.json().get("ok") is True
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    def create_bin(self, name: str | None = None, *, expires_in_s: int | None = None) -> Bin:
        """A new bin (named `name`, else a random id), deleted by the server `expires_in_s`
        seconds from now when given. Its `wait_for` considers every capture it will get.
        HookloupeError 409 when the name is taken, 400 when it is not a valid bin name."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if expires_in_s is not None:
            body["expires_in_s"] = expires_in_s
        return Bin(self, self.call_json("POST", "/api/bins", json=body), cursor=0)

    def bin(self, bin_id_or_url: str) -> Bin:
        """An existing bin, by id, page URL (`…/bins/<b>`) or capture URL (`…/h/<b>`). Its
        `wait_for` considers only captures newer than the newest one now. BinGoneError when it
        does not exist or has expired."""
        bin_id = _bin_id(bin_id_or_url)
        bin_ = Bin(self, self.call_json("GET", f"/api/bins/{quote(bin_id, safe='')}"), cursor=0)
        newest = bin_.requests(limit=1)
        bin_.cursor = newest[0].id if newest else 0
        return bin_

    def call(self, method: str, path: str, *, read_timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        """One API call (`path` below the server URL); the answer when it is a success, else
        BinGoneError (404/410 on a bin) or HookloupeError (any other refusal, or no answer)."""
        if read_timeout is not None:
            kwargs["timeout"] = httpx.Timeout(self.timeout, read=read_timeout)
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise HookloupeError(self.redact(f"cannot reach {self.url}: {type(error).__name__}: {error}")) from None
        if response.is_success:
            return response
        raise self._refusal(response)

    def call_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """`call`, and its answer's JSON object."""
        answer: dict[str, Any] = self.call(method, path, **kwargs).json()
        return answer

    def _refusal(self, response: httpx.Response) -> HookloupeError:
        """The error for a refused call, with the server's own `error` message."""
        try:
            detail = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            detail = response.text[:200] or response.reason_phrase
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        if status == 401:
            detail += " (put the password in the URL, http://user:PASSWORD@host, or pass a token)"
        message = self.redact(f"{where}: {status} {detail}")
        # The server names what is missing: "no bin named 'x'" (gone) or "no request 5 in bin 'x'".
        if status == 410 or (status == 404 and detail.startswith("no bin")):
            return BinGoneError(message, status)
        return HookloupeError(message, status)

    def redact(self, text: str) -> str:
        """`text` with this client's password and token (and their Basic form) masked."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _bin_id(bin_id_or_url: str) -> str:
    """The bin id of an id, a page URL or a capture URL; HookloupeError for a URL that is neither."""
    if "/" not in bin_id_or_url:
        return bin_id_or_url
    from inspector.delivery.relay import RelayError, parse_bin_url

    try:
        return parse_bin_url(bin_id_or_url)[1]
    except RelayError:
        shown = strip_userinfo(bin_id_or_url)
        raise HookloupeError(f"{shown!r} is neither a bin page (…/bins/<bin>) nor a capture URL (…/h/<bin>)") from None


class Bin:
    """One bin on the server: `id`, `url` (its capture URL: send webhooks there), `inspect_url`
    (its page), `expires_at` (aware datetime or None), `data` (the Bin JSON), `client`.

    `cursor` is the id after which `wait_for` looks: 0 for a bin made by `create_bin`, the newest
    capture id when got by `Client.bin`, then the id of each capture `wait_for` returns. None
    means "only captures that arrive after the next wait starts". As a context manager, leaving
    the block deletes the bin (one already gone is fine)."""

    def __init__(self, client: Client, data: dict[str, Any], *, cursor: int | None) -> None:
        self.client = client
        self.data = data
        self.id: str = data["id"]
        self.url: str = data["capture_url"]
        self.inspect_url: str = data["inspect_url"]
        self.expires_at = datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None
        self.cursor = cursor
        self._api = f"/api/bins/{quote(self.id, safe='')}"

    def __repr__(self) -> str:
        return f"Bin({self.id!r}, url={self.url!r})"

    def __enter__(self) -> Bin:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.delete()
        except BinGoneError:
            pass

    def wait_for(self, timeout: float = 30, **matchers: Any) -> Capture:
        """The oldest capture newer than `cursor` that matches every matcher, waiting up to
        `timeout` seconds for one to arrive; sets `cursor` to its id, so the next call finds the
        next one. Matchers: method, path (glob), content_type, text, provider, event (glob),
        verdict as strings; q={"name": "value"}, h={"X-Name": "glob"}, json={"a.b": value}
        (or flattened: **{"h.x-name": "glob"}); a list of values means all must hold.

        WaitTimeoutError (an AssertionError) when none matched in time, listing the near misses;
        HookloupeError 400 for a matcher the server does not know; BinGoneError when the bin is
        gone; HookloupeError when the server stays unreachable (a few failures are retried)."""
        __tracebackhide__ = True  # a failing test shows its own line and this message, not this loop
        params = matcher_params(matchers)
        deadline = time.monotonic() + max(0.0, timeout)
        after = self.cursor
        near: dict[int, dict[str, Any]] = {}
        failures = 0
        while True:
            try:
                answer = self._wait_once(params, after, deadline - time.monotonic())
            except HookloupeError as error:
                failures += 1
                if not _is_transient(error) or failures > WAIT_RETRIES or time.monotonic() >= deadline:
                    raise
                time.sleep(min(_RETRY_PAUSE_S * failures, max(0.0, deadline - time.monotonic())))
                continue
            failures = 0
            if answer.get("request") is not None:
                capture = Capture(answer["request"], self._fetch)
                self.cursor = capture.id
                return capture
            after = max(after or 0, int(answer.get("last_id") or 0))
            near.update({int(miss["id"]): miss for miss in answer.get("near_misses") or ()})
            if time.monotonic() >= deadline:
                misses = [near[key] for key in sorted(near, reverse=True)[:_NEAR_MISSES_SHOWN]]
                raise WaitTimeoutError(self._timeout_message(params, timeout, misses), misses)

    def _wait_once(self, params: list[tuple[str, str]], after: int | None, remaining: float) -> dict[str, Any]:
        """One server wait of at most MAX_SERVER_WAIT_S (whole seconds, rounded up)."""
        server_wait = min(MAX_SERVER_WAIT_S, max(0, math.ceil(remaining)))
        query = [*params, ("timeout_s", str(server_wait))]
        if after is not None:
            query.append(("after", str(after)))
        path = f"{self._api}/requests/wait"
        return self.client.call_json("GET", path, params=query, read_timeout=server_wait + _WAIT_READ_MARGIN_S)

    def _timeout_message(self, params: Sequence[tuple[str, str]], timeout: float, misses: list[dict[str, Any]]) -> str:
        start = f" after #{self.cursor}" if self.cursor else ""
        head = f"no capture in bin {self.id!r}{start} matched {describe_matchers(params)} within {timeout:g} s"
        if not misses:
            return head + "; no capture arrived"
        lines = [head, "near misses, newest first:", *(f"  {near_miss_line(miss)}" for miss in misses)]
        return "\n".join(lines)

    def requests(self, limit: int = 50, **matchers: Any) -> list[Capture]:
        """Up to `limit` captures that match (newest first), as summaries: headers, body and the
        full signature are fetched when first read. BinGoneError when the bin is gone."""
        found: list[Capture] = []
        before: int | None = None
        params = matcher_params(matchers)
        while len(found) < limit:
            query = [*params, ("limit", str(min(_MAX_PAGE, limit - len(found))))]
            if before is not None:
                query.append(("before", str(before)))
            page = self.client.call_json("GET", f"{self._api}/requests", params=query)
            found.extend(Capture(item, self._fetch) for item in page["requests"])
            before = page.get("next_before")
            if before is None or not page["requests"]:
                break
        return found[:limit]

    def count(self, **matchers: Any) -> int:
        """How many stored captures match."""
        return int(
            self.client.call_json("GET", f"{self._api}/requests/count", params=matcher_params(matchers))["count"]
        )

    def get(self, capture_id: int) -> Capture:
        """The capture with that id (in full); HookloupeError 404 when the bin has none such."""
        return Capture(self._fetch(capture_id), self._fetch)

    def _fetch(self, capture_id: int) -> dict[str, Any]:
        """The Request JSON of a capture of this bin."""
        return self.client.call_json("GET", f"{self._api}/requests/{int(capture_id)}")

    def add_secret(self, label: str, value: str, provider: str | None = None) -> dict[str, Any]:
        """Store a signing secret (for `provider` only, when given); the bin's captures are
        verified again with it. Returns the Secret JSON (a hint, never the value)."""
        body = {"label": label, "value": value, "provider": provider}
        return self.client.call_json("POST", f"{self._api}/secrets", json=body)

    def replay(
        self,
        capture: Capture | int,
        url: str,
        *,
        method: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes | None = None,
        resign: bool = False,
    ) -> dict[str, Any]:
        """Send a capture again to `url` (sub-path and query appended), optionally with another
        method, headers or body, re-signed when `resign`. Returns the Delivery JSON (status_code
        or error of the attempt)."""
        capture_id = capture.id if isinstance(capture, Capture) else int(capture)
        payload: dict[str, Any] = {"url": url, "resign": resign}
        if method is not None:
            payload["method"] = method
        if headers is not None:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            payload["headers"] = [[name, value] for name, value in pairs]
        if body is not None:
            payload["body_base64"] = base64.b64encode(body).decode("ascii")
        return self.client.call_json("POST", f"{self._api}/requests/{capture_id}/replay", json=payload)

    def stats(self) -> dict[str, Any]:
        """Counts by provider and verdict (the server's stats JSON)."""
        return self.client.call_json("GET", f"{self._api}/stats")

    def clear(self) -> None:
        """Delete every capture of the bin."""
        self.client.call("DELETE", f"{self._api}/requests")

    def delete(self) -> None:
        """Delete the bin and its captures; BinGoneError when it is already gone."""
        self.client.call("DELETE", self._api)


def _is_transient(error: HookloupeError) -> bool:
    """No answer (connection refused, reset, timed out) or 503 (the server is busy)."""
    return error.status is None or error.status == 503
