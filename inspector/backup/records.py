"""The export file's lines: a stored row as a line's object and back (the format: backup/__init__.py)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from inspector import redaction
from inspector.capture.request import query_pairs

FORMAT = "hookloupe-export"
VERSION = 1
SECRETS_NOTE = (
    "secret values are encrypted with the exporting server's SECRET_KEY: import them into a server with the same key"
)
# Capture columns exported as they are, and the analysis, which is re-derived when absent.
CAPTURE_FIELDS = ("method", "path", "query_string", "headers", "remote_addr", "content_type", "body_size")
FLAGS = ("body_truncated", "body_incomplete", "handshake", "redacted", "pinned", "note")
ANALYSIS_FIELDS = ("provider_id", "event", "delivery_id", "verdict", "signature")


class BackupFormatError(Exception):
    """The input is not a Hookloupe export this version can read, or a line of it is damaged."""


class SchemaError(Exception):
    """The database is not at the head revision: `hookloupe db upgrade` first."""


def bin_record(row: dict[str, Any], secrets: list[dict[str, Any]]) -> dict[str, Any]:
    """A `bins` row and its `secrets` rows as an export line's object."""
    forward = None if row["forward_url"] is None else {"url": row["forward_url"], "enabled": row["forward_enabled"]}
    return {
        "type": "bin",
        "id": row["id"],
        "created_at": iso(row["created_at"]),
        "max_requests": row["max_requests"],
        # headers and body None mean the default JSON answer; kept apart from an empty value.
        "response": {
            "status": row["response_status"],
            "headers": row["response_headers"],
            "body": row["response_body"],
            "delay_ms": row["response_delay_ms"],
        },
        "forward": forward,
        "handshakes": row["handshakes"],
        "public_base_url": row["public_base_url"],
        "expires_at": iso(row["expires_at"]) if row.get("expires_at") else None,
        "redact": row.get("redact"),
        "secrets": [
            {
                "label": secret["label"],
                "provider": secret["provider"],
                "hint": secret["hint"],
                "created_at": iso(secret["created_at"]),
                "ciphertext_base64": base64.b64encode(secret["ciphertext"]).decode("ascii"),
            }
            for secret in secrets
        ],
    }


def capture_record(row: dict[str, Any]) -> dict[str, Any]:
    """A `captures` row as an export line's object (`query` is derived from the query string,
    for people reading the file; import uses `query_string`)."""
    return {
        "type": "capture",
        "id": row["id"],
        "bin": row["bin_id"],
        "received_at": iso(row["received_at"]),
        **{name: row[name] for name in CAPTURE_FIELDS},
        "query": [list(pair) for pair in query_pairs(row["query_string"])],
        "body_base64": base64.b64encode(row["body"]).decode("ascii"),
        **{name: row[name] for name in FLAGS},
        "analysis": {name: row[name] for name in ANALYSIS_FIELDS},
    }


def bin_row(record: dict[str, Any]) -> dict[str, Any]:
    """The `bins` row of a bin line."""
    response, forward = record["response"], record["forward"]
    return {
        "id": str(record["id"]),
        "created_at": datetime.fromisoformat(record["created_at"]),
        "max_requests": record["max_requests"],
        "response_status": int(response["status"]),
        "response_headers": response["headers"],
        "response_body": response["body"],
        "response_delay_ms": int(response["delay_ms"]),
        "forward_url": None if forward is None else forward["url"],
        "forward_enabled": False if forward is None else bool(forward["enabled"]),
        "handshakes": bool(record["handshakes"]),
        "public_base_url": record["public_base_url"],
        "analysis_generation": 0,
        # Exports made before ephemeral bins have no expiry.
        "expires_at": datetime.fromisoformat(record["expires_at"]) if record.get("expires_at") else None,
        # Exports made before redaction have none (the defaults).
        "redact": record.get("redact"),
        "capture_redaction": capture_redaction_of(record.get("redact")),
    }


def capture_redaction_of(redact: object) -> str | None:
    """`bins.capture_redaction` for a bin line's rules: what its capture path compares."""
    return redaction.capture_rules_text(redaction.rules_from_json(redact)) if redact else None


def secret_row(bin_id: str, secret: dict[str, Any]) -> dict[str, Any]:
    """The `secrets` row of one secret of a bin line (a new id)."""
    return {
        "bin_id": bin_id,
        "label": secret["label"],
        "provider": secret["provider"],
        "hint": secret["hint"],
        "created_at": datetime.fromisoformat(secret["created_at"]),
        "ciphertext": base64.b64decode(secret["ciphertext_base64"], validate=True),
    }


def capture_row(record: dict[str, Any], *, keep_id: bool) -> dict[str, Any]:
    """The `captures` row of a capture line; its id only when `keep_id`."""
    analysis = record.get("analysis") or {}
    row = {
        "bin_id": record["bin"],
        "received_at": datetime.fromisoformat(record["received_at"]),
        **{name: record[name] for name in CAPTURE_FIELDS},
        "body": base64.b64decode(record["body_base64"], validate=True),
        "body_truncated": bool(record["body_truncated"]),
        "body_incomplete": bool(record.get("body_incomplete", False)),
        "handshake": record.get("handshake"),
        "redacted": record.get("redacted"),
        "pinned": bool(record.get("pinned", False)),
        "note": record.get("note"),
        **{name: analysis.get(name) for name in ANALYSIS_FIELDS},
    }
    if row["verdict"] is None:
        row["signature"] = None  # a verdict and its detail go together
    if keep_id:
        row["id"] = int(record["id"])
    return row


def line(record: dict[str, Any]) -> str:
    """One line of the file. ASCII only: any text, even a lone surrogate from a hostile
    header, survives the round trip."""
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"


def iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")
