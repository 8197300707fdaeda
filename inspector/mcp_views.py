"""Shaping the MCP tools' answers: bounded (each cut counted) and with sensitive headers redacted."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from inspector.client import strip_userinfo

# Body bytes shown of one capture or response; the rest is counted in `body_truncated_bytes`.
BODY_LIMIT = 16 * 1024
# Captures listed at most by one list_requests call; the rest is counted in `more_requests`.
LIST_LIMIT = 50
# Header pairs shown of one capture or response; the rest is counted in `more_headers`.
HEADER_LIMIT = 100
# Characters shown of one header value, path, query string or debug string.
TEXT_LIMIT = 2048
# Items shown of one list inside a signature's debug data.
DEBUG_ITEMS = 20
# Characters shown of the answer to send_sample.
ANSWER_LIMIT = 2000
# Headers whose values are never shown (DESIGN §8 default redaction).
REDACTED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"})
REDACTED = "[redacted]"

# What to do next, by signature verdict (None: not analysed yet), for explain_signature.
VERDICT_HINTS = {
    None: "The capture is still being analysed: call explain_signature again in a moment.",
    "no_secret": "Add the provider's signing secret with add_secret; the bin's captures are then verified again.",
    "invalid": "No stored secret matches: check that add_secret holds the secret of this endpoint "
    "(test vs live mode), and that nothing changed the body on the way.",
    "expired": "The signature matched but its timestamp was outside the provider's tolerance when it arrived; "
    "replay_request with resign=true sends it again freshly signed.",
    "unsigned": "The provider signs its webhooks but this request carries no signature header.",
}


def cut_text(value: str, limit: int = TEXT_LIMIT) -> str:
    """`value`, or its first `limit` characters followed by how many were left out."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}…[{len(value) - limit} more characters]"


def body_view(data: bytes, limit: int = BODY_LIMIT, prefix: str = "body") -> dict[str, Any]:
    """A body as UTF-8 text when all of it decodes, else base64, cut at `limit` bytes; the
    `<prefix>_truncated_bytes` count says how many bytes are not shown."""
    shown = data[:limit]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return {
            f"{prefix}_encoding": "base64",
            prefix: base64.b64encode(shown).decode("ascii"),
            f"{prefix}_truncated_bytes": len(data) - len(shown),
        }
    # Valid UTF-8 cut inside a character loses only that character's first bytes.
    text = shown.decode("utf-8", "ignore")
    return {f"{prefix}_encoding": "utf-8", prefix: text, f"{prefix}_truncated_bytes": len(data) - len(text.encode())}


def header_view(pairs: Sequence[Sequence[str]]) -> tuple[list[list[str]], int]:
    """Header [name, value] pairs in order, sensitive values redacted, long values cut; and how
    many pairs beyond HEADER_LIMIT were left out."""
    shown = [
        [name, REDACTED if name.lower() in REDACTED_HEADERS else cut_text(value)]
        for name, value in pairs[:HEADER_LIMIT]
    ]
    return shown, max(0, len(pairs) - HEADER_LIMIT)


def _b64(data: str | None) -> bytes:
    try:
        return base64.b64decode(data or "")
    except (binascii.Error, ValueError):
        return b""


def summary_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """One line's worth of a capture for a list."""
    provider = data.get("provider") or {}
    return {
        "id": data["id"],
        "received_at": data.get("received_at"),
        "method": data.get("method"),
        "path": cut_text(data.get("path") or "/", 200),
        "query_string": cut_text(data.get("query_string") or "", 200),
        "content_type": data.get("content_type"),
        "body_size": data.get("body_size"),
        "provider": provider.get("id"),
        "event": provider.get("event"),
        "verdict": (data.get("signature") or {}).get("status") or "pending",
    }


def request_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """A full capture, bounded and redacted."""
    headers, more_headers = header_view(data.get("headers") or [])
    signature = data.get("signature") or {}
    view: dict[str, Any] = {
        "id": data["id"],
        "received_at": data.get("received_at"),
        "method": data.get("method"),
        "path": cut_text(data.get("path") or "/"),
        "query_string": cut_text(data.get("query_string") or ""),
        "content_type": data.get("content_type"),
        "remote_addr": data.get("remote_addr"),
        "provider": data.get("provider"),
        "signature": {key: signature.get(key) for key in ("status", "scheme", "secret", "detail")},
        "headers": headers,
        "more_headers": more_headers,
        "body_size": data.get("body_size"),
        **body_view(_b64(data.get("body_base64"))),
    }
    if data.get("body_truncated"):
        view["body_cut_at_capture"] = "the server stored only the first bytes of this body (its size limit)"
    if data.get("handshake"):
        view["handshake"] = bounded(data["handshake"])
    return view


def signature_view(signature: Mapping[str, Any]) -> dict[str, Any]:
    """A verdict in full (status, scheme, secret label, detail, inferred, warnings, debug), bounded."""
    keys = ("status", "scheme", "secret", "detail", "inferred", "warnings", "debug")
    return {key: bounded(signature.get(key)) for key in keys}


def delivery_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """A replay's outcome, bounded and redacted."""
    headers, more_headers = header_view(data.get("response_headers") or [])
    view: dict[str, Any] = {
        "delivery": data.get("id"),
        "request_id": data.get("request_id"),
        "method": data.get("method"),
        "url": strip_userinfo(str(data.get("url") or "")),
        "status_code": data.get("status_code"),
        "error": data.get("error"),
        "elapsed_ms": data.get("elapsed_ms"),
        "note": data.get("note"),
        "response_headers": headers,
        "more_headers": more_headers,
        **body_view(_b64(data.get("response_body_base64")), prefix="response_body"),
    }
    return view


def bounded(value: Any, depth: int = 0) -> Any:
    """JSON data with long strings cut and long lists shortened (with a count); deep nesting
    is shown as text."""
    if isinstance(value, str):
        return cut_text(value)
    if depth > 6:
        return cut_text(repr(value), 200)
    if isinstance(value, Mapping):
        return {str(key): bounded(item, depth + 1) for key, item in list(value.items())[: DEBUG_ITEMS * 5]}
    if isinstance(value, list | tuple):
        items = [bounded(item, depth + 1) for item in value[:DEBUG_ITEMS]]
        if len(value) > DEBUG_ITEMS:
            items.append(f"…[{len(value) - DEBUG_ITEMS} more items]")
        return items
    return value
