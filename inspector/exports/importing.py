"""Import a HAR or NDJSON file into a bin: tell which it is, check every capture, store them all in one transaction.

The format is told by content: a JSON object with `"log"` is HAR, anything else is read as
NDJSON lines. Every capture is checked before anything is written (records.py), so a bad one
imports nothing; the rows then go in with one transaction, oldest first (by time, then by
their ids in the file), so ids grow with time as they do for captures. Bodies, headers (order
and duplicates), query strings, methods, sub-paths and times are stored as the file holds them
— except where the bin redacts at capture ("never store"): its rules apply to an import too.
The rows are then analysed like captures (provider, event, verdict, from the bin's secrets),
and open pages and streams see them. Imported captures are not forwarded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError

from inspector import redaction
from inspector.capture.request import CapturedRequest
from inspector.db import db
from inspector.exports.har import read_har
from inspector.exports.ndjson import read_ndjson
from inspector.exports.records import ImportInputError, Incoming, incoming
from inspector.models import Capture
from inspector.safejson import loads_bounded

# Rows per INSERT, and body bytes per INSERT (a larger body goes alone).
_INSERT_ROWS = 200
_INSERT_BYTES = 16 * 1024 * 1024
_CAPTURES = cast(Table, Capture.__table__)
_BOM = b"\xef\xbb\xbf"


class BinGoneError(Exception):
    """The bin was deleted while the import ran: nothing was imported."""


def read_import(data: bytes) -> list[Incoming]:
    """The captures of a HAR or NDJSON file, checked, oldest first; ImportInputError naming the
    line or entry at fault. An empty file holds none."""
    data = data.removeprefix(_BOM)
    document: Any = None
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            document = loads_bounded(data)
        except ValueError:  # several JSON lines (NDJSON), or no JSON at all: read line by line
            document = None
    if isinstance(document, list):
        raise ImportInputError("expected a HAR file (a JSON object with a log) or NDJSON lines, not a JSON array")
    found = read_har(document) if isinstance(document, dict) and "log" in document else read_ndjson(data)
    return sorted((incoming(fields, position) for position, fields in enumerate(found)), key=lambda item: item.order)


def store_import(bin_id: str, captures: list[Incoming], *, capture_redaction: str | None) -> int:
    """Insert `captures` into the bin in one transaction (redacted under `capture_redaction`,
    the bin's rules text while it redacts at capture) and have them analysed; returns how many.
    BinGoneError when the bin was deleted meanwhile (nothing is stored)."""
    rules = redaction.rules_from_text(capture_redaction) if capture_redaction else None
    try:
        for chunk in _chunks(_row(bin_id, item, rules) for item in captures):
            db.session.execute(insert(_CAPTURES), chunk)
        db.session.commit()
    except IntegrityError:  # the bin's row went away: the captures' foreign key
        db.session.rollback()
        raise BinGoneError(bin_id) from None
    except BaseException:
        db.session.rollback()
        raise
    if captures:
        # As after a capture: the analyser picks the bin's unanalysed rows, streams wake.
        current_app.extensions["hookloupe.analyser"].wake(bin_id)
        current_app.extensions["hookloupe.capture_marks"].poke((bin_id,))
    return len(captures)


def _row(bin_id: str, item: Incoming, rules: redaction.Rules | None) -> dict[str, Any]:
    """The `captures` row of an imported capture, unanalysed."""
    captured: CapturedRequest = item.captured
    notes = list(item.redacted)
    if rules is not None:
        captured, found = redaction.redact_request(captured, rules)
        notes = list(dict.fromkeys(notes + found))
    return {
        "bin_id": bin_id,
        "received_at": captured.received_at,
        "method": captured.method,
        "path": captured.path,
        "query_string": captured.query_string,
        "headers": [list(pair) for pair in captured.headers],
        "remote_addr": captured.remote_addr,
        "content_type": captured.content_type,
        "body": captured.body,
        "body_size": captured.body_size,
        "body_truncated": captured.body_truncated,
        "body_incomplete": captured.body_incomplete,
        "provider_id": None,
        "event": None,
        "delivery_id": None,
        "verdict": None,
        "signature": None,
        "handshake": item.handshake,
        "redacted": notes or None,
    }


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        if chunk and (len(chunk) >= _INSERT_ROWS or size + len(row["body"]) > _INSERT_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += len(row["body"])
    if chunk:
        yield chunk
