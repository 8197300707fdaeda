"""A capture's pin and note: what the owner marks to keep (cleanup.py spares pinned captures)."""

from __future__ import annotations

from sqlalchemy import func, select

from inspector.db import db
from inspector.models import Capture
from inspector.store.bins import KEEP, Keep

# A bin keeps at most this many pinned captures: pins are spared by pruning, so without a
# bound they would let a bin grow past its limit without end.
MAX_PINNED = 100


class TooManyPinsError(Exception):
    """Pinning one more capture would exceed MAX_PINNED in its bin."""


def pinned_count(bin_id: str) -> int:
    """How many of the bin's captures are pinned (0 for an unknown bin)."""
    query = select(func.count()).select_from(Capture).where(Capture.bin_id == bin_id, Capture.pinned.is_(True))
    return int(db.session.execute(query).scalar_one())


def set_pin_and_note(
    bin_id: str, capture_id: int, *, pinned: bool | Keep = KEEP, note: str | Keep | None = KEEP
) -> Capture | None:
    """Pin or unpin the capture and set or clear (None) its note (KEEP leaves either as it is);
    the capture with its body, None when it is not in that bin. TooManyPinsError when pinning
    it would exceed MAX_PINNED (nothing is changed then). The caller checks the note's text."""
    row = db.session.get(Capture, capture_id)
    if row is None or row.bin_id != bin_id:
        return None
    if pinned is True and not row.pinned and pinned_count(bin_id) >= MAX_PINNED:
        raise TooManyPinsError(f"a bin keeps at most {MAX_PINNED} pinned requests; unpin one first")
    if not isinstance(pinned, Keep):
        row.pinned = pinned
    if not isinstance(note, Keep):
        row.note = note
    db.session.commit()
    return row
