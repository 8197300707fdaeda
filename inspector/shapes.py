"""The JSON shapes of DESIGN §4, built from stored rows as plain dicts."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from inspector.capture.request import query_pairs
from inspector.models import Bin, Capture, Delivery, Secret
from inspector.redaction import rules_json, rules_of
from inspector.signing import providers
from inspector.signing.analysis import stored_verification
from inspector.signing.verify import Verification, verification_to_json
from inspector.store import BinStats


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a `Z`."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def bin_json(bin_: Bin, *, base_url: str, request_count: int, default_max: int) -> dict[str, Any]:
    return {
        "id": bin_.id,
        "capture_url": f"{base_url}/h/{bin_.id}",
        "inspect_url": f"{base_url}/bins/{bin_.id}",
        "created_at": iso(bin_.created_at),
        "request_count": request_count,
        "max_requests": bin_.max_requests or default_max,
        "response": {
            "status": bin_.response_status,
            "headers": [list(pair) for pair in bin_.response_headers or ()],
            "body": bin_.response_body,
            "delay_ms": bin_.response_delay_ms,
        },
        "forward": {"url": bin_.forward_url, "enabled": bin_.forward_enabled} if bin_.forward_url else None,
        "handshakes": bin_.handshakes,
        "public_base_url": bin_.public_base_url,
        "expires_at": iso(bin_.expires_at) if bin_.expires_at else None,
        "redact": rules_json(rules_of(bin_)),
    }


def summary_json(row: Capture) -> dict[str, Any]:
    """The Summary shape; reads no body bytes (list queries defer them)."""
    return {
        "id": row.id,
        "received_at": iso(row.received_at),
        "method": row.method,
        "path": row.path,
        "query_string": row.query_string,
        "content_type": row.content_type,
        "body_size": row.body_size,
        "provider": provider_json(row),
        # None (and analysed false) for the moments between the commit and the analysis, and
        # while the bin's captures are verified again after its secrets changed.
        "signature": {"status": row.verdict},
        "analysed": row.verdict is not None,
        # The owner's marks (store/pins.py): a pinned capture is kept by pruning and clear-all.
        "pinned": bool(row.pinned),
        "note": row.note,
    }


def provider_json(row: Capture) -> dict[str, Any] | None:
    """The DESIGN §4 `provider` object from the detection stored at capture time."""
    if row.provider_id is None:
        return None
    entry = providers.get(row.provider_id)
    return {
        "id": row.provider_id,
        "name": entry.name if entry else row.provider_id,
        "event": row.event,
        "delivery_id": row.delivery_id,
    }


def request_json(row: Capture, verification: Verification | None = None) -> dict[str, Any]:
    """The full Request shape: Summary plus headers, query pairs, address, body and the
    signature verdict: the stored one, or `verification` when given (e.g. "check now")."""
    return summary_json(row) | {
        "headers": [list(pair) for pair in row.headers],
        "query": [list(pair) for pair in query_pairs(row.query_string)],
        "remote_addr": row.remote_addr,
        "body_base64": base64.b64encode(row.body).decode("ascii"),
        "body_truncated": row.body_truncated,
        "body_incomplete": row.body_incomplete,
        "handshake": row.handshake,
        # What redaction at capture replaced before the row was written (redaction.py).
        "redacted": row.redacted or [],
        "signature": verification_to_json(verification) if verification else stored_signature_json(row),
    }


def stored_signature_json(row: Capture) -> dict[str, Any]:
    """The row's stored verdict as the Request `signature`; while the row awaits analysis,
    status None and a detail that says so."""
    if row.verdict is None:
        return {
            "status": None,
            "scheme": None,
            "secret": None,
            "detail": "Waiting for analysis.",
            "inferred": False,
            "warnings": [],
            "debug": {},
        }
    return verification_to_json(stored_verification(row.verdict, row.signature))


def stats_json(stats: BinStats, *, max_requests: int) -> dict[str, Any]:
    """The DESIGN §4 stats shape."""
    return {
        "request_count": stats.request_count,
        "max_requests": max_requests,
        "unanalysed": stats.unanalysed,
        "providers": [
            {"id": provider_id, "name": _provider_name(provider_id), "count": count}
            for provider_id, count in stats.providers
        ],
        "verdicts": stats.verdicts,
    }


def _provider_name(provider_id: str | None) -> str:
    if provider_id is None:
        return "no provider"
    entry = providers.get(provider_id)
    return entry.name if entry else provider_id


def secret_json(row: Secret) -> dict[str, Any]:
    """The Secret shape: never the value, only a hint of its last characters."""
    return {
        "id": row.id,
        "label": row.label,
        "provider": row.provider,
        "hint": row.hint,
        "created_at": iso(row.created_at),
    }


def delivery_json(row: Delivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "request_id": row.capture_id,
        "kind": row.kind,
        "method": row.method,
        "url": row.url,
        "status_code": row.status_code,
        "error": row.error,
        "elapsed_ms": row.elapsed_ms,
        "response_headers": [list(pair) for pair in row.response_headers],
        "response_body_base64": base64.b64encode(row.response_body).decode("ascii"),
        "attempt": row.attempt,
        "note": row.note,
        "created_at": iso(row.created_at),
    }
