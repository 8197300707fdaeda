"""Judge stored captures: rebuild the request value, find the public URL the sender called,
decrypt the bin's secrets, and cache each verdict's status for listing and filtering."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from inspector import store
from inspector.capture.request import CapturedRequest
from inspector.models import Bin, Capture, Secret
from inspector.signing import providers, secretbox
from inspector.signing.providers import Detection
from inspector.signing.verify import SecretValue, Verification, judge

log = logging.getLogger(__name__)


def captured_from_row(row: Capture, *, at: datetime | None = None) -> CapturedRequest:
    """The stored capture as the value the verifiers take; `at` replaces the arrival time
    (for "check now")."""
    return CapturedRequest(
        method=row.method,
        path=row.path,
        query_string=row.query_string,
        headers=tuple((name, value) for name, value in row.headers),
        body=row.body,
        body_size=row.body_size,
        body_truncated=row.body_truncated,
        remote_addr=row.remote_addr,
        received_at=at or row.received_at,
        content_type=row.content_type,
    )


def public_url(base: str, bin_id: str, path: str, query_string: str) -> str:
    """The URL the sender called: base + /h/<bin> + sub-path + ?query."""
    url = f"{base.rstrip('/')}/h/{bin_id}{path}"
    return f"{url}?{query_string}" if query_string else url


def secret_values(rows: Sequence[Secret], secret_key: str) -> list[SecretValue]:
    """Decrypted secrets; one that cannot be decrypted (SECRET_KEY changed) is skipped and
    logged rather than failing the verdict."""
    values = []
    for row in rows:
        try:
            values.append(SecretValue(row.id, row.label, row.provider, secretbox.decrypt(secret_key, row.ciphertext)))
        except secretbox.SecretKeyChangedError:
            log.warning("secret %s of bin %s cannot be decrypted with the current SECRET_KEY", row.id, row.bin_id)
    return values


def judge_row(row: Capture, secrets: Sequence[SecretValue], base: str, *, at: datetime | None = None) -> Verification:
    """The verdict on one stored capture (as of its arrival, or `at`)."""
    captured = captured_from_row(row, at=at)
    return judge(captured, secrets, public_url=public_url(base, row.bin_id, row.path, row.query_string))


def analyse(row: Capture, secrets: Sequence[SecretValue], base: str) -> tuple[Detection | None, Verification]:
    """Detect the sender of a stored capture and judge its signature (as of its arrival)."""
    captured = captured_from_row(row)
    detection = providers.detect(captured)
    url = public_url(base, row.bin_id, row.path, row.query_string)
    return detection, judge(captured, secrets, public_url=url, detection=detection)


def judge_rows(rows: Sequence[Capture], bin_id: str, secret_key: str, base: str) -> None:
    """Analyse each row not analysed yet (`verdict` None): detect its provider, event and
    delivery id, judge its signature, cache all of it on the row and in the database.

    Capture stores rows unanalysed, so detection and verification cost nothing on the
    capture path; they run here, once per row, when someone first looks."""
    missing = [row for row in rows if row.verdict is None]
    if not missing:
        return
    secrets = secret_values(store.list_secrets(bin_id), secret_key)
    results = {}
    for row in missing:
        detection, verification = analyse(row, secrets, base)
        row.provider_id = detection.provider_id if detection else None
        row.event = _clip(detection.event) if detection else None
        row.delivery_id = _clip(detection.delivery_id) if detection else None
        row.verdict = verification.status
        results[row.id] = (row.provider_id, row.event, row.delivery_id, row.verdict)
    store.save_analysis(results)


def judge_all_pending(bin_: Bin, secret_key: str, base: str, *, batch: int = 200) -> None:
    """Analyse every capture of the bin not analysed yet (before filtering on the results)."""
    while rows := store.unjudged_captures(bin_.id, batch):
        judge_rows(rows, bin_.id, secret_key, base)


def _clip(text, size: int = 200):
    """Event names and delivery ids come from hostile bodies: keep them short."""
    return None if text is None else str(text)[:size]
