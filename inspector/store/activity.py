"""The activity log: who replayed, forwarded, deleted or changed a bin's settings, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from inspector.db import db
from inspector.models import Activity

# What one page or API call shows at most.
MAX_ENTRIES = 200


def record(bin_id: str, actor: str, action: str, detail: str, now: datetime) -> None:
    """Note one action (committed now: the action it records has already happened)."""
    db.session.add(Activity(bin_id=bin_id, actor=actor, action=action, detail=detail[:500], at=now))
    db.session.commit()


def of_bin(bin_id: str, limit: int = MAX_ENTRIES) -> list[Activity]:
    """The bin's newest entries first."""
    query = select(Activity).where(Activity.bin_id == bin_id).order_by(Activity.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def newest(limit: int = MAX_ENTRIES) -> list[Activity]:
    """The server's newest entries first, every bin's (deleted bins' too)."""
    return list(db.session.scalars(select(Activity).order_by(Activity.id.desc()).limit(limit)))
