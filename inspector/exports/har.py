"""A bin's captures as HAR 1.2 (one `log.entries` item per capture), and back.

Written: each entry's `request` has the method, the capture URL with the sub-path and raw
query, `httpVersion` "HTTP/1.1", every captured header in order (duplicates kept),
`queryString` pairs, `cookies` [] and `postData` {`mimeType`, `text`} — `text` is the body
when it is UTF-8, else its base64 with `"encoding": "base64"` (as HAR's `content` spells it).
Hookloupe answers are not stored, so `response` is the empty one HAR tools accept (status 0).
`_hookloupe` (HAR's custom-field prefix is `_`) adds what makes an import exact: id, bin,
received_at (microseconds), path, query_string, remote_addr, content_type, body_size, the
flags, redaction notes and the analysis (provider, event, verdict: informative; an import
analyses again).

Read: entries from any HAR (a browser's too): without `_hookloupe`, the sub-path is the URL's
path after `/h/<bin>` (else the whole path), the query the URL's raw query (else
`queryString`), the time `startedDateTime`; `postData.params` without `text` is urlencoded.
HTTP/2 pseudo-headers (`:authority`…) are left out.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from importlib import metadata
from typing import Any
from urllib.parse import urlencode, urlsplit

from inspector.capture.request import query_pairs
from inspector.exports.records import Fields, ImportInputError
from inspector.headers import first_header
from inspector.models import Capture
from inspector.shapes import iso

_EMPTY_RESPONSE = {
    "status": 0,
    "statusText": "",
    "httpVersion": "",
    "cookies": [],
    "headers": [],
    "content": {"size": 0, "mimeType": ""},
    "redirectURL": "",
    "headersSize": -1,
    "bodySize": -1,
}


def _version() -> str:
    try:
        return metadata.version("hookloupe")
    except metadata.PackageNotFoundError:
        return "0"


def har_chunks(rows: Iterable[Capture], capture_url: str) -> Iterator[str]:
    """The HAR document as text pieces, one entry at a time, in the order of `rows`;
    `capture_url` is the bin's (`…/h/<bin>`)."""
    creator = json.dumps({"name": "Hookloupe", "version": _version()})
    yield f'{{"log": {{"version": "1.2", "creator": {creator}, "pages": [], "entries": ['
    separator = "\n"
    for row in rows:
        yield separator + json.dumps(har_entry(row, capture_url), ensure_ascii=True, separators=(",", ":"))
        separator = ",\n"
    yield "\n]}}\n"


def har_entry(row: Capture, capture_url: str) -> dict[str, Any]:
    """One capture as a HAR entry (see the module docstring)."""
    url = capture_url + row.path + (f"?{row.query_string}" if row.query_string else "")
    request: dict[str, Any] = {
        "method": row.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": [{"name": name, "value": value} for name, value in row.headers],
        "queryString": [{"name": name, "value": value} for name, value in query_pairs(row.query_string)],
        "headersSize": -1,
        "bodySize": len(row.body),
    }
    if row.body:
        mime = row.content_type or first_header(row.headers, "Content-Type") or "application/octet-stream"
        try:
            request["postData"] = {"mimeType": mime, "text": row.body.decode("utf-8")}
        except UnicodeDecodeError:
            text = base64.b64encode(row.body).decode("ascii")
            request["postData"] = {"mimeType": mime, "text": text, "encoding": "base64"}
    return {
        "startedDateTime": iso(row.received_at),
        "time": 0,
        "request": request,
        "response": _EMPTY_RESPONSE,
        "cache": {},
        "timings": {"send": 0, "wait": 0, "receive": 0},
        "_hookloupe": {
            "id": row.id,
            "bin": row.bin_id,
            "received_at": iso(row.received_at),
            "path": row.path,
            "query_string": row.query_string,
            "remote_addr": row.remote_addr,
            "content_type": row.content_type,
            "body_size": row.body_size,
            "body_truncated": row.body_truncated,
            "body_incomplete": row.body_incomplete,
            "handshake": row.handshake,
            "redacted": row.redacted or [],
            "provider": row.provider_id,
            "event": row.event,
            "verdict": row.verdict,
        },
    }


def read_har(document: dict[str, Any]) -> list[Fields]:
    """The captures of a HAR document (`{"log": {"entries": [...]}}`); ImportInputError naming
    the first entry that cannot be read."""
    log = document.get("log")
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise ImportInputError('a HAR file needs "log": {"entries": [...]}')
    return [_fields(entry, f"entry {number}") for number, entry in enumerate(entries, start=1)]


def _fields(entry: object, where: str) -> Fields:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(request, dict):
        raise ImportInputError(f"{where} has no request object")
    extra = entry.get("_hookloupe")
    extra = extra if isinstance(extra, dict) else {}
    url = request.get("url")
    if not isinstance(url, str):
        raise ImportInputError(f"{where}: request.url must be a string")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ImportInputError(f"{where}: request.url is not a URL ({error})") from None
    path = extra.get("path", _sub_path(parts.path))
    query = extra.get("query_string", parts.query or _query_of(request.get("queryString"), where))
    return Fields(
        where=where,
        method=request.get("method"),
        path=path,
        query_string=query,
        headers=_header_pairs(request.get("headers", []), where),
        body=_body(request.get("postData"), where),
        received_at=extra.get("received_at", entry.get("startedDateTime")),
        remote_addr=extra.get("remote_addr", ""),
        content_type=extra.get("content_type"),
        body_size=extra.get("body_size"),
        body_truncated=extra.get("body_truncated", False),
        body_incomplete=extra.get("body_incomplete", False),
        handshake=extra.get("handshake"),
        redacted=extra.get("redacted") or None,
        original_id=extra.get("id"),
    )


def _sub_path(path: str) -> str:
    """What follows `/h/<bin>` in a capture URL's path; any other URL's whole path."""
    segments = path.split("/")
    if len(segments) >= 3 and segments[1] == "h" and segments[2]:
        return "/".join(["", *segments[3:]]) if len(segments) > 3 else ""
    return path


def _query_of(pairs: Any, where: str) -> str:
    if not pairs:
        return ""
    try:
        return urlencode([(item["name"], item["value"]) for item in pairs])
    except (KeyError, TypeError, ValueError):
        raise ImportInputError(f"{where}: queryString must be a list of {{name, value}} objects") from None


def _header_pairs(headers: object, where: str) -> list[list[Any]]:
    if not isinstance(headers, list):
        raise ImportInputError(f"{where}: request.headers must be a list")
    pairs = []
    for item in headers:
        if not isinstance(item, dict):
            raise ImportInputError(f"{where}: each request header must be a {{name, value}} object")
        name = item.get("name")
        if isinstance(name, str) and name.startswith(":"):
            continue  # an HTTP/2 pseudo-header: part of the request line, not a header
        pairs.append([name, item.get("value")])
    return pairs


def _body(post_data: object, where: str) -> bytes:
    """The body `postData` holds: `text` (base64 when `encoding` says so), else `params`."""
    if post_data is None:
        return b""
    if not isinstance(post_data, dict):
        raise ImportInputError(f"{where}: request.postData must be an object")
    text = post_data.get("text")
    if text is None and post_data.get("params"):
        return _query_of(post_data["params"], where).encode("utf-8")
    if not isinstance(text, str):
        raise ImportInputError(f"{where}: postData.text must be a string")
    if post_data.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ImportInputError(f"{where}: postData.text is not base64 ({error})") from None
    if post_data.get("encoding") not in (None, ""):
        raise ImportInputError(f"{where}: postData.encoding {str(post_data['encoding'])[:40]!r} is not base64")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ImportInputError(f"{where}: postData.text is not valid Unicode (a lone surrogate)") from None
