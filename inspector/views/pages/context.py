"""What the bin page's templates are given: plain dicts built from stored rows (reads only).

The same dicts serve a share link's read-only page (`shared`, a SharedView): links under the
link's own base URL, none of the owner's controls, nothing derived from the bin's secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import current_app, url_for

from inspector import bodyview, redacted_view, redaction, store
from inspector.analyser import verify_now
from inspector.capture.request import query_pairs
from inspector.delivery import compare
from inspector.headers import first_header
from inspector.models import Bin, Capture, Delivery
from inspector.signing import providers
from inspector.signing.analysis import stored_verification
from inspector.signing.schemes import KEY_READING_NAMES
from inspector.signing.verify import STATUSES, Verification
from inspector.views.common import base_url, listed_row
from inspector.views.pages.forms import (
    REPLAY_METHODS,
    ListFilters,
    editable_body,
    filter_qs,
    headers_text,
    list_filters,
)

PAGE_SIZE = 50


def bin_url(bin_id: str) -> str:
    return url_for("pages.show", bin_id=bin_id)


@dataclass(frozen=True)
class SharedView:
    """How a share link shows the bin: its pages live under `base` (`/s/<token>`, so the bin
    id, itself a capability, appears nowhere), and the raw body is offered only with
    `allow_raw`; the event filter only with `event_filter` (redacted_view.event_filter_safe).
    The captures handed in are already redacted (views/share.py)."""

    base: str
    allow_raw: bool
    event_filter: bool = True


def page_url(bin_: Bin, shared: SharedView | None) -> str:
    """The base the page's links and fragments hang under: the bin's page, or the share link."""
    return shared.base if shared is not None else bin_url(bin_.id)


def provider_name(provider_id: str | None) -> str:
    """The registry's name for a provider id (ids come from the registry, not from senders)."""
    entry = providers.get(provider_id) if provider_id else None
    return entry.name if entry else (provider_id or "")


def page_of_rows(bin_: Bin, before: int | None, filters: ListFilters) -> tuple[list[Capture], int | None]:
    """Up to PAGE_SIZE captures older than `before` matching `filters` (newest first) and the
    cursor for the next page, None when there is none. Asks for one extra row to know."""
    found = store.list_captures(bin_.id, limit=PAGE_SIZE + 1, before=before, **filters)
    page = found[:PAGE_SIZE]
    return page, (page[-1].id if len(found) > PAGE_SIZE else None)


def facets_context(
    bin_: Bin, filters: ListFilters, *, list_state: ListState | None = None, shared: SharedView | None = None
) -> dict[str, Any]:
    """The list's counts: provider choices with exact counts, verdict choices, and how many
    captures still wait for their analysis (shown as progress while secrets are re-checked).
    `list_state` is what the list on the page was rendered with (None: rendered now)."""
    stats = store.bin_stats(bin_.id)
    return {
        "bin_": bin_,
        "bin_url": page_url(bin_, shared),
        "shared": shared,
        "filters": filters,
        "stats": stats,
        "max_requests": bin_.max_requests or current_app.config["MAX_REQUESTS_PER_BIN"],
        "provider_options": [
            (provider_id or "none", provider_name(provider_id) if provider_id else "no provider", count)
            for provider_id, count in stats.providers
        ],
        "verdict_counts": stats.verdicts,
        "statuses": [status for status in STATUSES if status != "none"] + ["none"],
        "list_state": list_state or ListState(bin_.analysis_generation, stats.unanalysed > 0),
    }


@dataclass(frozen=True)
class ListState:
    """What the list on the page was rendered with: the bin's analysis generation and whether
    some of its captures still awaited analysis. The facets carry it along, so they can tell
    the page to reload its list once the verdicts it shows are stale and the re-check is done."""

    generation: int
    pending: bool

    def is_stale(self, bin_: Bin, unanalysed: int) -> bool:
        """True when nothing awaits analysis any more and the list predates it."""
        return unanalysed == 0 and (self.pending or self.generation != bin_.analysis_generation)


def list_context(
    bin_: Bin, before: int | None, filters: ListFilters, *, shared: SharedView | None = None
) -> dict[str, Any]:
    """The list pane: one page of rows, where its live stream starts, and its facets. The rows
    are as stored: a share link's view redacts them itself."""
    rows, next_before = page_of_rows(bin_, before, filters)
    if shared is None:
        rows = owner_rows(bin_, rows)
    if before is None and filters:
        # Stream from the newest capture of all: rows hidden by the filters need no re-check.
        newest = store.list_captures(bin_.id, limit=1)
        live_after: int | None = newest[0].id if newest else 0
    elif before is None:
        live_after = rows[0].id if rows else 0
    else:
        live_after = None  # only the newest page is live
    if live_after is None:
        stream_url = None
    elif shared is None:
        stream_url = url_for("pages.stream_rows", bin_id=bin_.id, after=live_after, **filters)
    else:
        stream_url = f"{shared.base}/stream?{urlencode({'after': live_after, **filters})}"
    return {
        **facets_context(bin_, filters, shared=shared),
        "rows": rows,
        "next_before": next_before,
        "live_after": live_after,
        "stream_url": stream_url,
        "older_page": before is not None,
        "filter_qs": filter_qs(filters),
    }


def owner_rows(bin_: Bin, rows: list[Capture]) -> list[Capture]:
    """List rows as the owner sees them: their query redacted when the bin's rules say `for_owner`."""
    rules = redaction.rules_of(bin_)
    return [listed_row(row, rules) for row in rows] if rules.for_owner else rows


def bin_context(bin_: Bin, before: int | None, selected: int | None) -> dict[str, Any]:
    """The whole bin page, with capture `selected` open when it is in the bin."""
    row = store.get_capture(bin_.id, selected) if selected is not None else None
    rules = redaction.rules_of(bin_)
    if row is not None and rules.for_owner:  # the owner chose to see redacted values too
        row = redacted_view.redacted_copy(row, rules)
    listed = list_context(bin_, before, list_filters())
    return {
        **listed,
        "capture_url": f"{base_url()}/h/{bin_.id}",
        **secrets_context(bin_.id, stats=listed["stats"]),
        **(detail_context(bin_, row) if row is not None else {"row": None}),
    }


def detail_context(bin_: Bin, row: Capture, *, shared: SharedView | None = None) -> dict[str, Any]:
    """The detail pane; a share link's pane has no replay form and no deliveries (they are the
    owner's sending, to the owner's targets), and the raw body only when the link allows it.
    Body views are previews (PREVIEW_LIMIT characters): a 10 MiB capture's pane stays small."""
    if shared is None:
        raw_url: str | None = url_for("api.raw_body", bin_id=bin_.id, capture_id=row.id)
    else:
        raw_url = f"{shared.base}/requests/{row.id}/raw" if shared.allow_raw else None
    data = {
        "row": row,
        "bin_url": page_url(bin_, shared),
        "raw_url": raw_url,
        "query": query_pairs(row.query_string),
        "views": _views(row, bodyview.PREVIEW_LIMIT, bodyview.PREVIEW_HEX),
        "max_body": current_app.config["MAX_BODY_BYTES"],
        **signature_context(bin_, row, None, shared=shared),
    }
    if shared is None:
        data |= {
            **deliveries_context(bin_.id, row),
            "replay_methods": REPLAY_METHODS,
            "headers_text": headers_text(row.headers),
        }
    return data


def _views(row: Capture, limit: int, hex_limit: int) -> list[bodyview.BodyView]:
    encoding = first_header(row.headers, "Content-Encoding") or ""
    return bodyview.body_views(row.body, row.content_type, encoding, limit=limit, hex_limit=hex_limit)


def body_view_context(
    bin_: Bin, row: Capture, index: int, *, shared: SharedView | None = None
) -> dict[str, Any] | None:
    """One body view of the detail pane in full (FULL_LIMIT characters, FULL_HEX bytes of hex)
    instead of its preview: `index` counts the views as the pane lists them. None when the
    body has no such view. A share link passes its view and a row already redacted for it."""
    views = _views(row, bodyview.FULL_LIMIT, bodyview.FULL_HEX)
    if not 0 <= index < len(views):
        return None
    return {"row": row, "bin_url": page_url(bin_, shared), "view": views[index], "index": index, "full": True}


def replay_body_context(row: Capture) -> dict[str, Any]:
    """The replay form's body field, loaded when "Edit before sending" is opened: the body as
    text, None when it is not UTF-8 (it is then sent as captured, never edited)."""
    return {"row": row, "body_text": editable_body(row.body)}


def signature_context(
    bin_: Bin, row: Capture, checked_now: datetime | None, *, shared: SharedView | None = None
) -> dict[str, Any]:
    """The signature section: the registry entry, the stored verdict and the evidence for the
    provider (or, with `checked_now`, a verdict as of that time, computed and not stored), and
    the debugger's rows. `verification` is None while the capture awaits its analysis. A share
    link sees the verdict without anything the bin's secrets gave it (shared_verification)."""
    entry = providers.get(row.provider_id) if row.provider_id else None
    stored = row.signature or {}
    if checked_now is not None:
        verification = verify_now(current_app, bin_, row, at=checked_now)
    elif row.verdict is not None:
        verification = stored_verification(row.verdict, stored)
    else:
        verification = None
    if shared is not None and verification is not None:
        verification = shared_verification(verification)
    return {
        "row": row,
        "bin_url": page_url(bin_, shared),
        "shared": shared,
        "evidence": stored.get("evidence") or [],
        "entry": entry,
        "verification": verification,
        "debug_rows": debug_rows(verification.debug) if verification else [],
        "checked_now": checked_now,
    }


# The debugger's rows, in reading order: (key in Verification.debug, label).
_DEBUG_LABELS = (
    ("algorithm", "Algorithm"),
    ("encoding", "Signature encoding"),
    ("key_interpretation", "Key read as"),
    ("key_reading", "Key reading tried"),
    ("signed_preview", "Signed string (preview)"),
    ("expected", "Expected signature"),
    ("received", "Received signature(s)"),
    ("matched_index", "Matched signature"),
    ("body_variant", "Body variant"),
    ("url_variant", "URL variant"),
    ("timestamp_skew_seconds", "Timestamp skew"),
    ("tolerance_seconds", "Tolerance"),
    ("missing", "Missing"),
    ("diagnosis", "Diagnosis"),
)


def debug_rows(debug: dict[str, Any]) -> list[tuple[str, str]]:
    """The verdict's debug dict as (label, text) rows: known keys in a fixed order and
    worded for reading, unknown keys after them as they are. The dict never holds a secret."""
    rows, known = [], {key for key, _ in _DEBUG_LABELS}
    for key, label in _DEBUG_LABELS:
        if key not in debug or debug[key] in (None, "", []):
            continue
        value = debug[key]
        if key == "received" and isinstance(value, list):
            matched = debug.get("matched_index")
            text = "\n".join(
                f"{n + 1}. {item}" + ("   ← matched" if n == matched else "") for n, item in enumerate(value)
            )
        elif key == "matched_index":
            text = f"number {value + 1} of {len(debug.get('received') or []) or '?'}"
        elif key == "timestamp_skew_seconds":
            text = f"{value} s " + ("(timestamp in the past)" if value >= 0 else "(timestamp in the future)")
        elif key == "tolerance_seconds":
            text = "none (any age accepted)" if value is None else f"± {value} s"
        elif key in ("key_interpretation", "key_reading"):
            text = KEY_READING_NAMES.get(value, str(value))
        else:
            text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        rows.append((label, text))
    rows.extend((key.replace("_", " "), str(value)) for key, value in debug.items() if key not in known)
    return rows


# The debugger rows a share link sees: how the signature is made and read, timing and what is
# missing. Left out: whatever the secrets or the body gave (the secret's label, how the key was
# read, the expected signature, the diagnosis found by trying the secret, the signed content
# and hashes of the body, which would show or confirm redacted values, the received signatures,
# which may sit in a redacted header, and so which of them matched).
_SHARED_DEBUG_KEYS = frozenset(
    {
        "algorithm",
        "encoding",
        "body_variant",
        "url_variant",
        "timestamp_skew_seconds",
        "tolerance_seconds",
        "future_tolerance_seconds",
        "missing",
    }
)
# A share link's sentence for the verdicts that come from trying the bin's secrets (their
# stored sentences name the secret, or say what trying it found).
_SHARED_DETAILS = {
    "valid": "The signature matched a stored secret.",
    "expired": "The signature matched a stored secret, but its timestamp is outside the accepted window.",
    "invalid": "The signature did not verify with this bin's stored secrets. The bin's owner sees why.",
}


def shared_verification(verification: Verification) -> Verification:
    """The verdict as a share link shows it: no secret label, a fixed sentence for the verdicts
    that come from trying the secrets, and only the debugger rows listed in _SHARED_DEBUG_KEYS.
    The other statuses' sentences are about the request and the registry, never a secret."""
    debug = verification.debug
    return replace(
        verification,
        secret=None,
        detail=_SHARED_DETAILS.get(verification.status, verification.detail),
        debug={key: value for key, value in debug.items() if key in _SHARED_DEBUG_KEYS},
    )


def deliveries_context(bin_id: str, row: Capture) -> dict[str, Any]:
    return {
        "row": row,
        "bin_url": bin_url(bin_id),
        "deliveries": [delivery_view(d) for d in store.list_deliveries(row.id)],
    }


def delivery_view(row: Delivery) -> dict[str, Any]:
    """A Delivery with its response body readable: text, or a hex dump when not UTF-8."""
    text, is_binary = compare.body_text(row.response_body or b"")
    return {"d": row, "body": text, "binary": is_binary}


def secrets_context(
    bin_id: str, *, stats: store.BinStats | None = None, error: str = "", message: str = ""
) -> dict[str, Any]:
    """The secrets panel: stored secrets (hints only), the provider choices (those seen in
    this bin first) with where each provider shows its secret. `stats`: the bin's counts when
    the caller has them already."""
    seen = [provider_id for provider_id, _ in (stats or store.bin_stats(bin_id)).providers if provider_id]
    everyone = sorted(providers.all_providers(), key=lambda entry: entry.name.lower())
    return {
        "bin_url": bin_url(bin_id),
        "secrets": store.list_secrets(bin_id),
        "seen_providers": [providers.get(provider_id) for provider_id in seen if providers.get(provider_id)],
        "all_providers": [entry for entry in everyone if entry.schemes],
        "secret_error": error,
        "secret_message": message,
    }
