"""Deliveries (replay and forward attempts) and the auto-forward queue with its leases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from inspector.db import db
from inspector.models import Delivery, ForwardJob
from inspector.store.sql import execute_dml


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
        won = execute_dml(
            update(ForwardJob)
            .where(ForwardJob.id == job_id, ForwardJob.state == "pending", claimable)
            .values(lease_token=token, lease_until=lease_until)
        )
        db.session.commit()
        if won:
            return db.session.get(ForwardJob, job_id)
    return None


def finish_forward_job(job: ForwardJob, token: str, *, state: str, next_attempt_at: datetime | None) -> bool:
    """Record the outcome of the claimed attempt and release the lease; False when the lease
    was lost (another worker took the job after it expired)."""
    values: dict[str, object] = {
        "attempts": ForwardJob.attempts + 1,
        "lease_token": None,
        "lease_until": None,
        "state": state,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    done = execute_dml(
        update(ForwardJob).where(ForwardJob.id == job.id, ForwardJob.lease_token == token).values(**values)
    )
    db.session.commit()
    return done > 0


def pending_forward_jobs() -> int:
    """How many jobs still wait for a delivery."""
    return db.session.execute(
        select(func.count()).select_from(ForwardJob).where(ForwardJob.state == "pending")
    ).scalar_one()
