"""The server's bins at a glance, for `GET /api/bins`: every bin and their capture counts."""

from __future__ import annotations

from sqlalchemy import func, select

from inspector.db import db
from inspector.models import Bin, Capture


def all_bins() -> list[Bin]:
    """Every bin, newest first."""
    return list(db.session.scalars(select(Bin).order_by(Bin.created_at.desc(), Bin.id)))


def counts_by_bin(bin_ids: list[str]) -> dict[str, int]:
    """How many captures each of these bins holds (bins with none are left out). One grouped
    query over the (bin_id, id) index, in slices so the IN list stays small."""
    counts: dict[str, int] = {}
    for start in range(0, len(bin_ids), 500):
        part = bin_ids[start : start + 500]
        query = select(Capture.bin_id, func.count()).where(Capture.bin_id.in_(part)).group_by(Capture.bin_id)
        counts.update({bin_id: count for bin_id, count in db.session.execute(query)})
    return counts
