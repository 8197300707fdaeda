"""Analyse one capture: detect its sender, verify its signature, and say where it was sent.

Plain functions of plain values (no Flask, no database): `inspector.analyser` runs them once
per stored capture and writes the result to its row; readers only read that result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from inspector.capture.request import CapturedRequest
from inspector.signing import providers, secretbox
from inspector.signing.verify import NO_PROVIDER, SecretValue, Verification, verify_signature

log = logging.getLogger(__name__)

# Event names and delivery ids come from hostile bodies: they are stored cut to this length.
MAX_LABEL = 200


@dataclass(frozen=True)
class Analysis:
    """What Hookloupe concludes about one capture: the provider (None when unknown), its event
    and delivery id, the evidence for the provider, and the signature verdict."""

    provider_id: str | None
    event: str | None
    delivery_id: str | None
    evidence: tuple[str, ...]
    verification: Verification


def analyse(
    captured: CapturedRequest, secrets: Sequence[SecretValue], *, public_url: str, redacted: Sequence[str] = ()
) -> Analysis:
    """Detect the sender of `captured` and verify its signature as of its arrival with
    `secrets`. `public_url` is the URL the sender called (for URL-signing providers);
    `redacted` says what redaction at capture replaced (see `blame_redaction`).
    Never raises for hostile input: a failure inside detection or verification becomes an
    `unverifiable` verdict that says so, for this capture alone."""
    try:
        detection = providers.detect(captured)
        verification = (
            verify_signature(captured, secrets, public_url=public_url, detection=detection)
            if detection is not None
            else NO_PROVIDER
        )
    except (RecursionError, MemoryError, ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        log.warning("analysis of a capture failed: %r", error)
        detail = f"Hookloupe could not analyse this request ({type(error).__name__}); it is shown as received."
        return Analysis(None, None, None, (), Verification("unverifiable", detail=detail))
    if detection is None:
        return Analysis(None, None, None, (), verification)
    return Analysis(
        detection.provider_id,
        clip(detection.event),
        clip(detection.delivery_id),
        detection.evidence,
        blame_redaction(verification, redacted),
    )


def verify_as_of(
    captured: CapturedRequest,
    secrets: Sequence[SecretValue],
    *,
    public_url: str,
    at: datetime,
    redacted: Sequence[str] = (),
) -> Verification:
    """The verdict as if the capture had arrived at `at` ("check now"); stores nothing."""
    verification = verify_signature(replace(captured, received_at=at), secrets, public_url=public_url)
    return blame_redaction(verification, redacted)


def blame_redaction(verification: Verification, redacted: Sequence[str]) -> Verification:
    """An `invalid` or `unsigned` verdict on a capture redacted at capture (`redacted`: what
    was replaced, in redaction.py's words) becomes `unverifiable`, saying which parts were
    replaced: the signature may have covered them. `valid` and `expired` stand (a match proves
    the replaced parts were not signed); other verdicts do not depend on the signed bytes."""
    if not redacted or verification.status not in ("invalid", "unsigned"):
        return verification
    parts = list(dict.fromkeys(_replaced_part(entry) for entry in redacted))
    named = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    verb = "was" if len(parts) == 1 else "were"
    detail = (
        f'Its signature cannot be checked: {named} {verb} replaced at capture by this bin\'s redaction ("never store").'
    )
    warnings = (*verification.warnings, f"As stored, it is {verification.status}: {verification.detail}")
    return replace(verification, status="unverifiable", secret=None, detail=detail, warnings=warnings)


def _replaced_part(entry: str) -> str:
    """The part a redaction entry names: `header X-Api-Key pattern #1` → `header X-Api-Key`,
    `body json card` → `the body`, `query token` → `the query string`."""
    kind, _, rest = entry.partition(" ")
    if kind == "header":
        return f"header {rest.split(' ')[0]}"
    return {"body": "the body", "query": "the query string"}.get(kind, entry)


def captured_from_row(row: Any) -> CapturedRequest:
    """A stored capture (an ORM row or a result row with the same fields) as the value the
    analysis takes."""
    return CapturedRequest(
        method=row.method,
        path=row.path,
        query_string=row.query_string,
        headers=tuple((name, value) for name, value in row.headers),
        body=row.body,
        body_size=row.body_size,
        body_truncated=row.body_truncated,
        body_incomplete=row.body_incomplete,
        remote_addr=row.remote_addr,
        received_at=row.received_at,
        content_type=row.content_type,
    )


def clip(text: object, size: int = MAX_LABEL) -> str | None:
    """`text` as a string of at most `size` characters (None stays None)."""
    return None if text is None else str(text)[:size]


def public_url(base: str, bin_id: str, path: str, query_string: str) -> str:
    """The URL the sender called: base + /h/<bin> + sub-path + ?query."""
    url = f"{base.rstrip('/')}/h/{bin_id}{path}"
    return f"{url}?{query_string}" if query_string else url


def sender_base(captured: CapturedRequest, *, trusted_proxies: int) -> str:
    """The base URL (scheme://host) the sender called, read from the capture's own headers:
    `Host`, or `X-Forwarded-Host`/`X-Forwarded-Proto` when proxies are trusted. Used when
    neither the bin nor BASE_URL names the public base."""
    host = captured.header("Host") or "localhost"
    scheme = "http"
    if trusted_proxies > 0:
        host = _last_hop(captured.header("X-Forwarded-Host"), trusted_proxies) or host
        scheme = _last_hop(captured.header("X-Forwarded-Proto"), trusted_proxies) or scheme
    return f"{scheme}://{host}"


def _last_hop(value: str | None, trusted: int) -> str | None:
    """The value the outermost trusted proxy appended to a comma-separated header."""
    if not value:
        return None
    hops = [part.strip() for part in value.split(",") if part.strip()]
    return hops[-trusted] if len(hops) >= trusted else (hops[0] if hops else None)


class StoredSecret(Protocol):
    """What `secret_values` reads of a stored secret row."""

    id: int
    bin_id: str
    label: str
    provider: str | None
    ciphertext: bytes


def secret_values(rows: Sequence[StoredSecret], secret_key: str) -> list[SecretValue]:
    """Decrypted secrets; one that cannot be decrypted (SECRET_KEY changed) is skipped and
    logged rather than failing the verdict."""
    values = []
    for row in rows:
        try:
            values.append(SecretValue(row.id, row.label, row.provider, secretbox.decrypt(secret_key, row.ciphertext)))
        except secretbox.SecretKeyChangedError:
            log.warning("secret %s of bin %s cannot be decrypted with the current SECRET_KEY", row.id, row.bin_id)
    return values


def signature_json(analysis: Analysis) -> dict[str, Any]:
    """The stored part of a verdict beyond its status (the `captures.signature` column)."""
    v = analysis.verification
    return {
        "scheme": v.scheme,
        "secret": v.secret,
        "detail": v.detail,
        "inferred": v.inferred,
        "warnings": list(v.warnings),
        "debug": v.debug,
        "evidence": list(analysis.evidence),
    }


def stored_verification(status: str, signature: dict[str, Any] | None) -> Verification:
    """A Verification rebuilt from a row's `verdict` and `signature` columns."""
    stored = signature or {}
    return Verification(
        status,
        scheme=stored.get("scheme"),
        secret=stored.get("secret"),
        detail=stored.get("detail") or "",
        inferred=bool(stored.get("inferred")),
        warnings=tuple(stored.get("warnings") or ()),
        debug=stored.get("debug") or {},
    )
