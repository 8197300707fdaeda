"""Judge stored captures: rebuild the request value, find the public URL the sender called,
decrypt the bin's secrets, and cache each verdict's status for listing and filtering."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from . import secretbox, store
from .capture import CapturedRequest
from .models import Bin, Capture, Secret
from .verdict import SecretValue, Verification, judge

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


def judge_rows(rows: Sequence[Capture], bin_id: str, secret_key: str, base: str) -> None:
    """Fill in the cached verdict of each row that has none (bodies load as needed)."""
    missing = [row for row in rows if row.verdict is None]
    if not missing:
        return
    secrets = secret_values(store.list_secrets(bin_id), secret_key)
    statuses = {row.id: judge_row(row, secrets, base).status for row in missing}
    store.save_verdicts(statuses)
    for row in missing:
        row.verdict = statuses[row.id]


def judge_pending(bin_: Bin, secret_key: str, base: str, *, limit: int = 200) -> int:
    """Judge and cache up to `limit` captures of the bin that have no cached verdict; returns
    how many were judged (0 when all are cached)."""
    rows = store.unjudged_captures(bin_.id, limit)
    if not rows:
        return 0
    secrets = secret_values(store.list_secrets(bin_.id), secret_key)
    store.save_verdicts({row.id: judge_row(row, secrets, base).status for row in rows})
    return len(rows)


def judge_all_pending(bin_: Bin, secret_key: str, base: str) -> None:
    """Judge every capture of the bin that lacks a cached verdict (before filtering by it)."""
    while judge_pending(bin_, secret_key, base):
        pass
