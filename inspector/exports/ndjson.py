"""A bin's captures as NDJSON: one Request JSON (shapes.request_json, body in `body_base64`) a line, and back.

Lines are ASCII (`\\uXXXX` escapes), so any captured text, even a lone surrogate in a hostile
header, survives the round trip; the body is base64, so its bytes do too. An import reads what
it stores from each line: `received_at`, `method`, `path`, `query_string` (else `query` pairs,
urlencoded), `headers`, `body_base64`, and when present `remote_addr`, `content_type`,
`body_size`, `body_truncated`, `body_incomplete`, `handshake`, `redacted`. The analysis
(provider, event, verdict) is not read: it is made again, as for a capture.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from inspector.exports.records import Fields, ImportInputError
from inspector.models import Capture
from inspector.safejson import loads_bounded
from inspector.shapes import request_json


def ndjson_lines(rows: Iterable[Capture]) -> Iterator[str]:
    """One line (ending in a newline) per capture, in the order given."""
    for row in rows:
        yield json.dumps(request_json(row), ensure_ascii=True, separators=(",", ":")) + "\n"


def read_ndjson(data: bytes) -> list[Fields]:
    """The captures of an NDJSON file, one per non-empty line; ImportInputError naming the
    first line that is not a Request JSON object."""
    found = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = loads_bounded(line)
        except ValueError as error:
            raise ImportInputError(f"{where} is not JSON ({error})") from None
        if not isinstance(record, dict):
            raise ImportInputError(f"{where} is not a JSON object")
        found.append(fields_of(record, where))
    return found


def fields_of(record: dict[str, Any], where: str) -> Fields:
    """What an import stores of one Request JSON object (checked later, in importing.py)."""
    body_base64 = record.get("body_base64", "")
    if not isinstance(body_base64, str):
        raise ImportInputError(f"{where}: body_base64 must be a string")
    try:
        body = base64.b64decode(body_base64, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImportInputError(f"{where}: body_base64 is not base64 ({error})") from None
    query_string = record.get("query_string")
    if query_string is None and isinstance(record.get("query"), list):
        try:
            query_string = urlencode([(str(name), str(value)) for name, value in record["query"]])
        except (TypeError, ValueError):
            raise ImportInputError(f"{where}: query must be a list of [name, value] pairs") from None
    return Fields(
        where=where,
        method=record.get("method"),
        path=record.get("path", ""),
        query_string=query_string if query_string is not None else "",
        headers=record.get("headers", []),
        body=body,
        received_at=record.get("received_at"),
        remote_addr=record.get("remote_addr", ""),
        content_type=record.get("content_type"),
        body_size=record.get("body_size"),
        body_truncated=record.get("body_truncated", False),
        body_incomplete=record.get("body_incomplete", False),
        handshake=record.get("handshake"),
        redacted=record.get("redacted"),
        original_id=record.get("id"),
    )
