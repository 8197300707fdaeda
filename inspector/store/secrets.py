"""A bin's signing secrets, and marking its verdicts stale when they change."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import delete, select, update

from inspector.db import db
from inspector.models import Bin, Capture, Secret
from inspector.store.sql import execute_dml


def add_secret(bin_id: str, *, label: str, provider: str | None, ciphertext: bytes, hint: str, now: datetime) -> Secret:
    """Store an (already encrypted) secret; the bin's captures are verified again in the
    background (their verdicts read as unanalysed until then)."""
    row = Secret(bin_id=bin_id, label=label, provider=provider, ciphertext=ciphertext, hint=hint, created_at=now)
    db.session.add(row)
    clear_verdicts(bin_id)
    db.session.commit()
    wake_analyser(bin_id)
    return row


def list_secrets(bin_id: str) -> list[Secret]:
    """The bin's secrets, oldest first (empty when none)."""
    return list(db.session.scalars(select(Secret).where(Secret.bin_id == bin_id).order_by(Secret.id)))


def delete_secret(bin_id: str, secret_id: int) -> bool:
    """Delete one secret and verify the bin's captures again in the background; False when
    it is not in that bin."""
    deleted = execute_dml(delete(Secret).where(Secret.bin_id == bin_id, Secret.id == secret_id))
    if deleted:
        clear_verdicts(bin_id)
    db.session.commit()
    if deleted:
        wake_analyser(bin_id)
    return deleted > 0


def clear_verdicts(bin_id: str) -> None:
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


def wake_analyser(bin_id: str) -> None:
    current_app.extensions["hookloupe.analyser"].wake(bin_id)
