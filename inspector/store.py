"""The one place that talks to the database: bins and captures, SQLAlchemy 2 style.

Every function runs in the current Flask app context. Functions that look a row up return
None (or False) when it is missing; none of them raises for a missing row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from flask import current_app
from sqlalchemy import LargeBinary, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from inspector.bins import ResponseSettings
from inspector.db import db
from inspector.models import Bin, Capture, Delivery, ForwardJob, Secret

# Lists and streams show summaries: the body and the verdict's detail stay in the database.
_SUMMARY_ONLY = (defer(Capture.body), defer(Capture.signature))


class BinExistsError(Exception):
    """A bin with that id already exists."""


def create_bin(bin_id: str, now: datetime) -> Bin:
    """Insert a new bin; raise BinExistsError when the id is taken."""
    bin_ = Bin(id=bin_id, created_at=now)
    db.session.add(bin_)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise BinExistsError(bin_id) from None
    return bin_


def get_bin(bin_id: str) -> Bin | None:
    """The bin, or None when there is no such bin."""
    return db.session.get(Bin, bin_id)


class Keep(Enum):
    """The value of a `save_bin_settings` argument that leaves that setting as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


def save_bin_settings(
    bin_: Bin,
    *,
    response: ResponseSettings | Keep = KEEP,
    forward: tuple[str, bool] | Keep | None = KEEP,
    max_requests: int | Keep = KEEP,
    handshakes: bool | Keep = KEEP,
    public_base_url: str | Keep | None = KEEP,
) -> Bin:
    """Apply the settings given (KEEP, the default, leaves one unchanged; `forward=None` and
    `public_base_url=None` clear those). A new public base URL re-verifies the bin's captures
    (URL-signing providers sign it)."""
    if not isinstance(response, Keep):
        bin_.response_status = response.status
        bin_.response_headers = [list(pair) for pair in response.headers] or None
        bin_.response_body = response.body
        bin_.response_delay_ms = response.delay_ms
    if forward is None:
        bin_.forward_url, bin_.forward_enabled = None, False
    elif not isinstance(forward, Keep):
        bin_.forward_url, bin_.forward_enabled = forward
    if not isinstance(max_requests, Keep):
        bin_.max_requests = max_requests
    if not isinstance(handshakes, Keep):
        bin_.handshakes = handshakes
    reverify = not isinstance(public_base_url, Keep) and public_base_url != bin_.public_base_url
    if not isinstance(public_base_url, Keep):
        bin_.public_base_url = public_base_url
    if reverify:
        _clear_verdicts(bin_.id)
    db.session.commit()
    if reverify:
        _wake_analyser(bin_.id)
    return bin_


def response_settings(bin_: Bin) -> ResponseSettings:
    """The bin's configured answer as a plain value."""
    return ResponseSettings(
        status=bin_.response_status,
        headers=tuple(tuple(pair) for pair in bin_.response_headers or ()),
        body=bin_.response_body,
        delay_ms=bin_.response_delay_ms,
    )


def delete_bin(bin_id: str) -> bool:
    """Delete the bin and everything it holds; False when there was no such bin."""
    db.session.execute(delete(Capture).where(Capture.bin_id == bin_id))
    deleted = db.session.execute(delete(Bin).where(Bin.id == bin_id)).rowcount
    db.session.commit()
    return deleted > 0


def list_captures(
    bin_id: str,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
    q: str | None = None,
    provider: str | None = None,
    event: str | None = None,
    verdict: str | None = None,
) -> list[Capture]:
    """Captures of a bin, newest first, without their bodies loaded (an empty list when none).

    `before`/`after` are exclusive id bounds; `q` is a substring searched (case-insensitively
    for text fields) in method, path, query string, content type, remote address and body;
    `provider` (an id, or "none"), `event` and `verdict` filter exactly.
    """
    query = select(Capture).options(*_SUMMARY_ONLY).where(Capture.bin_id == bin_id)
    if provider:
        query = query.where(
            and_(Capture.provider_id.is_(None), Capture.verdict.is_not(None))
            if provider == "none"
            else Capture.provider_id == provider
        )
    if event:
        query = query.where(Capture.event == event)
    if verdict:
        query = query.where(Capture.verdict == verdict)
    if before is not None:
        query = query.where(Capture.id < before)
    if after is not None:
        query = query.where(Capture.id > after)
    if q:
        query = query.where(
            or_(
                Capture.method.icontains(q, autoescape=True),
                Capture.path.icontains(q, autoescape=True),
                Capture.query_string.icontains(q, autoescape=True),
                Capture.content_type.icontains(q, autoescape=True),
                Capture.remote_addr.contains(q, autoescape=True),
                _body_contains(q.encode("utf-8")),
            )
        )
    return list(db.session.scalars(query.order_by(Capture.id.desc()).limit(limit)))


def _body_contains(needle: bytes):
    """A byte-substring test on the body (LIKE does not work on SQLite blobs)."""
    if db.engine.dialect.name == "sqlite":
        return func.instr(Capture.body, needle) > 0
    return text("position(:needle in captures.body) > 0").bindparams(bindparam("needle", needle, type_=LargeBinary))


def captures_since(bin_id: str, after_id: int, limit: int = 100) -> list[Capture]:
    """Captures with id > after_id, oldest first (for event streams), bodies not loaded."""
    query = (
        select(Capture)
        .options(*_SUMMARY_ONLY)
        .where(Capture.bin_id == bin_id, Capture.id > after_id)
        .order_by(Capture.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def captures_by_ids(bin_id: str, ids: set[int] | list[int]) -> list[Capture]:
    """Those of `ids` that are captures of the bin (missing ones are left out), oldest
    first, bodies not loaded."""
    query = select(Capture).options(*_SUMMARY_ONLY).where(Capture.bin_id == bin_id, Capture.id.in_(list(ids)))
    return list(db.session.scalars(query.order_by(Capture.id)))


def recent_captures(bin_id: str, since: datetime, limit: int = 100) -> list[Capture]:
    """Captures received at or after `since`, oldest id first, bodies not loaded."""
    query = (
        select(Capture)
        .options(*_SUMMARY_ONLY)
        .where(Capture.bin_id == bin_id, Capture.received_at >= since)
        .order_by(Capture.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def get_capture(bin_id: str, capture_id: int) -> Capture | None:
    """One capture of the bin with its body, or None when it is not in that bin."""
    row = db.session.get(Capture, capture_id)
    return row if row is not None and row.bin_id == bin_id else None


def count_captures(bin_id: str) -> int:
    """How many captures the bin holds (0 for an unknown bin)."""
    return db.session.scalar(select(func.count()).select_from(Capture).where(Capture.bin_id == bin_id))


def delete_capture(bin_id: str, capture_id: int) -> bool:
    """Delete one capture; False when it is not in that bin."""
    deleted = db.session.execute(delete(Capture).where(Capture.bin_id == bin_id, Capture.id == capture_id)).rowcount
    db.session.commit()
    return deleted > 0


def clear_captures(bin_id: str) -> int:
    """Delete every capture of the bin; return how many there were."""
    deleted = db.session.execute(delete(Capture).where(Capture.bin_id == bin_id)).rowcount
    db.session.commit()
    return deleted


def last_activity(bin_: Bin) -> datetime:
    """When the bin last received a capture, or its creation time if it never did."""
    newest = db.session.scalar(select(func.max(Capture.received_at)).where(Capture.bin_id == bin_.id))
    if newest is not None and newest.tzinfo is None:  # func.max bypasses the column type
        newest = Capture.received_at.type.process_result_value(newest, db.engine.dialect)
    return max(bin_.created_at, newest) if newest else bin_.created_at


def prune(now: datetime, *, default_max: int, ttl_days: int) -> dict:
    """Delete captures beyond each bin's cap (oldest first) and bins idle past the TTL.

    Returns counts `{"captures": n, "bins": n}`. Safe to run from several processes at once.
    """
    pruned = 0
    over = db.session.execute(
        select(Capture.bin_id, func.count(), Bin.max_requests)
        .join(Bin, Bin.id == Capture.bin_id)
        .group_by(Capture.bin_id, Bin.max_requests)
        .having(func.count() > func.coalesce(Bin.max_requests, default_max))
    ).all()
    for bin_id, _count, bin_max in over:
        keep = bin_max or default_max
        boundary = db.session.scalar(
            select(Capture.id).where(Capture.bin_id == bin_id).order_by(Capture.id.desc()).offset(keep - 1).limit(1)
        )
        if boundary is not None:
            pruned += db.session.execute(
                delete(Capture).where(Capture.bin_id == bin_id, Capture.id < boundary)
            ).rowcount
    db.session.commit()
    expired = 0
    if ttl_days > 0:
        cutoff = now - timedelta(days=ttl_days)
        recent = select(Capture.id).where(Capture.bin_id == Bin.id, Capture.received_at >= cutoff).exists()
        stale = list(db.session.scalars(select(Bin.id).where(Bin.created_at < cutoff, ~recent)))
        for bin_id in stale:
            expired += int(delete_bin(bin_id))
    return {"captures": pruned, "bins": expired}


# --- deliveries and the forwarding queue ------------------------------------------------


def add_delivery(delivery: Delivery) -> Delivery:
    """Store one delivery attempt and commit."""
    db.session.add(delivery)
    db.session.commit()
    return delivery


def list_deliveries(capture_id: int) -> list[Delivery]:
    """Every attempt for a capture, oldest first (empty when none)."""
    return list(db.session.scalars(select(Delivery).where(Delivery.capture_id == capture_id).order_by(Delivery.id)))


def get_delivery(capture_id: int, delivery_id: int) -> Delivery | None:
    """One delivery of that capture, or None."""
    row = db.session.get(Delivery, delivery_id)
    return row if row is not None and row.capture_id == capture_id else None


def claim_forward_job(now: datetime, lease_until: datetime, token: str) -> ForwardJob | None:
    """Claim the oldest due job, or return None when none is due.

    The claim is a conditional UPDATE on the job's id and lease: of several workers racing
    for one job, exactly one sees its row updated (on SQLite and on PostgreSQL alike).
    """
    claimable = (ForwardJob.lease_until.is_(None)) | (ForwardJob.lease_until < now)
    candidates = db.session.scalars(
        select(ForwardJob.id)
        .where(ForwardJob.state == "pending", ForwardJob.next_attempt_at <= now, claimable)
        .order_by(ForwardJob.next_attempt_at, ForwardJob.id)
        .limit(5)
    ).all()
    for job_id in candidates:
        won = db.session.execute(
            update(ForwardJob)
            .where(ForwardJob.id == job_id, ForwardJob.state == "pending", claimable)
            .values(lease_token=token, lease_until=lease_until)
        ).rowcount
        db.session.commit()
        if won:
            return db.session.get(ForwardJob, job_id)
    return None


def finish_forward_job(job: ForwardJob, token: str, *, state: str, next_attempt_at: datetime | None) -> bool:
    """Record the outcome of the claimed attempt and release the lease; False when the lease
    was lost (another worker took the job after it expired)."""
    values = {"attempts": ForwardJob.attempts + 1, "lease_token": None, "lease_until": None, "state": state}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    done = db.session.execute(
        update(ForwardJob).where(ForwardJob.id == job.id, ForwardJob.lease_token == token).values(**values)
    ).rowcount
    db.session.commit()
    return done > 0


def pending_forward_jobs() -> int:
    """How many jobs still wait for a delivery."""
    return db.session.scalar(select(func.count()).select_from(ForwardJob).where(ForwardJob.state == "pending"))


# --- secrets and verdicts -----------------------------------------------------------------


def add_secret(bin_id: str, *, label: str, provider: str | None, ciphertext: bytes, hint: str, now: datetime) -> Secret:
    """Store an (already encrypted) secret; the bin's captures are verified again in the
    background (their verdicts read as unanalysed until then)."""
    row = Secret(bin_id=bin_id, label=label, provider=provider, ciphertext=ciphertext, hint=hint, created_at=now)
    db.session.add(row)
    _clear_verdicts(bin_id)
    db.session.commit()
    _wake_analyser(bin_id)
    return row


def list_secrets(bin_id: str) -> list[Secret]:
    """The bin's secrets, oldest first (empty when none)."""
    return list(db.session.scalars(select(Secret).where(Secret.bin_id == bin_id).order_by(Secret.id)))


def delete_secret(bin_id: str, secret_id: int) -> bool:
    """Delete one secret and verify the bin's captures again in the background; False when
    it is not in that bin."""
    deleted = db.session.execute(delete(Secret).where(Secret.bin_id == bin_id, Secret.id == secret_id)).rowcount
    if deleted:
        _clear_verdicts(bin_id)
    db.session.commit()
    if deleted:
        _wake_analyser(bin_id)
    return deleted > 0


def _clear_verdicts(bin_id: str) -> None:
    """Mark the bin's verdicts stale: bump its analysis generation (an analysis still running
    with the old secrets is then not written) and clear the verdict of every capture whose
    provider signs. Captures from no known provider stay "none" whatever the secrets. The bin
    row is updated first: the analyser locks bins before captures, so neither waits on the other."""
    db.session.execute(update(Bin).where(Bin.id == bin_id).values(analysis_generation=Bin.analysis_generation + 1))
    db.session.execute(
        update(Capture)
        .where(Capture.bin_id == bin_id, Capture.provider_id.is_not(None))
        .values(verdict=None, signature=None)
    )


def _wake_analyser(bin_id: str) -> None:
    current_app.extensions["hookloupe.analyser"].wake(bin_id)


@dataclass(frozen=True)
class BinStats:
    """Counts over a bin's captures from one query (DESIGN §4 stats): `providers` counts
    captures whose sender was detected (None = no known provider), most frequent first;
    `verdicts` counts verified captures by status; `unanalysed` are waiting for the analyser."""

    request_count: int
    unanalysed: int
    providers: list[tuple[str | None, int]]
    verdicts: dict[str, int]


def bin_stats(bin_id: str) -> BinStats:
    """The bin's counts (all zero for an unknown bin)."""
    rows = db.session.execute(
        select(Capture.provider_id, Capture.verdict, func.count())
        .where(Capture.bin_id == bin_id)
        .group_by(Capture.provider_id, Capture.verdict)
    ).all()
    providers: dict[str | None, int] = {}
    verdicts: dict[str, int] = {}
    total = unanalysed = 0
    for provider_id, verdict, count in rows:
        total += count
        if verdict is None:
            unanalysed += count
        else:
            verdicts[verdict] = verdicts.get(verdict, 0) + count
        if provider_id is not None or verdict is not None:  # detected (a fresh row is neither)
            providers[provider_id] = providers.get(provider_id, 0) + count
    ranked = sorted(providers.items(), key=lambda item: (-item[1], item[0] or ""))
    return BinStats(total, unanalysed, ranked, verdicts)
