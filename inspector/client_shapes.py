"""What the Python client (inspector.client) exchanges with the server: matchers as query parameters, captures as objects."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

# Matchers whose value is a {name: value} dict (also accepted flattened: "h.x-foo").
_DICT_MATCHERS = ("q", "h", "json")


def matcher_params(matchers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters for `matchers` (the keyword arguments of `Bin.wait_for`): strings as they
    are; `q`/`h`/`json` dicts flattened to `q.<name>`…; a list or tuple gives one parameter per
    value (all must hold); other JSON values (42, True, None) as JSON text, as `json.` compares.
    Names are not checked here: the server answers 400 to a matcher it does not know."""
    params: list[tuple[str, str]] = []
    for name, value in matchers.items():
        if name in _DICT_MATCHERS and isinstance(value, Mapping):
            for key, inner in value.items():
                params.extend((f"{name}.{key}", text) for text in _texts(inner))
        else:
            params.extend((name, text) for text in _texts(value))
    return params


def _texts(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return [value if isinstance(value, str) else json.dumps(value)]


def describe_matchers(params: Sequence[tuple[str, str]]) -> str:
    """`provider='stripe', verdict='valid'`, or `anything` when there are none."""
    return ", ".join(f"{name}={value!r}" for name, value in params) or "anything"


def near_miss_line(miss: Mapping[str, Any]) -> str:
    """`#12 POST /x — missed: provider: wanted 'github', got 'stripe'`."""
    reasons = "; ".join(str(reason) for reason in miss.get("missed") or ()) or "?"
    return f"#{miss.get('id')} {miss.get('method')} {miss.get('path') or '/'} — missed: {reasons}"


class Capture:
    """One captured request. Summary fields (id, method, path, query_string, received_at,
    content_type, provider, event, verdict, and `summary`, the JSON it was made from) are at
    hand; headers, query, body, signature and `data` fetch the full Request (with `fetch`, given
    the capture id) the first time one is read."""

    def __init__(self, data: dict[str, Any], fetch: Callable[[int], dict[str, Any]] | None = None) -> None:
        self._data = data
        self._fetch = fetch
        self.summary = data  # the JSON it was made from: a Summary, for the items of a list
        self.id: int = data["id"]
        self.method: str = data["method"]
        self.path: str = data["path"]
        self.query_string: str = data.get("query_string") or ""
        self.content_type: str | None = data.get("content_type")
        self.received_at: datetime = datetime.fromisoformat(data["received_at"])
        provider = data.get("provider") or {}
        self.provider: str | None = provider.get("id")
        self.provider_name: str | None = provider.get("name")
        self.event: str | None = provider.get("event")
        self.delivery_id: str | None = provider.get("delivery_id")
        self.verdict: str | None = (data.get("signature") or {}).get("status")

    def __repr__(self) -> str:
        return f"<Capture #{self.id} {self.method} {self.path or '/'} {self.provider or '-'} {self.verdict or '-'}>"

    @property
    def data(self) -> dict[str, Any]:
        """The Request JSON, as the server sent it."""
        if "body_base64" not in self._data and self._fetch is not None:
            self._data = self._fetch(self.id)
        return self._data

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Header (name, value) pairs in arrival order, duplicates kept."""
        return [(name, value) for name, value in self.data["headers"]]

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query (name, value) pairs in order, duplicates kept."""
        return [(name, value) for name, value in self.data["query"]]

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def body(self) -> bytes:
        """The body bytes exactly as received (up to the server's size limit)."""
        return base64.b64decode(self.data["body_base64"])

    @property
    def text(self) -> str:
        """The body as UTF-8 text (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON."""
        return json.loads(self.body)

    @property
    def signature(self) -> dict[str, Any]:
        """The verdict in full: status, scheme, secret (label), detail, warnings…"""
        signature: dict[str, Any] = self.data["signature"]
        return signature
