"""The administrator's overview of every bin on the server: counts, last activity, share links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from inspector.db import db
from inspector.models import Bin, Capture, ShareLink


@dataclass(frozen=True)
class BinOverview:
    """One bin as the all-bins page lists it. `last_capture_at` is when its newest capture
    arrived, None when it holds none."""

    id: str
    created_at: datetime
    expires_at: datetime | None
    request_count: int
    last_capture_at: datetime | None
    share_count: int


def count_bins() -> int:
    """How many bins the server holds."""
    return db.session.execute(select(func.count()).select_from(Bin)).scalar_one()


def bins_page(offset: int, limit: int) -> list[BinOverview]:
    """Up to `limit` bins after skipping `offset`, newest first (an offset past the end gives
    an empty list). The page of bins is chosen first; only its bins' figures are then read,
    each a correlated subquery on an index (the newest capture is the last entry of
    (bin_id, id): no bin's captures are scanned for it)."""
    page = (
        select(Bin.id, Bin.created_at, Bin.expires_at)
        .order_by(Bin.created_at.desc(), Bin.id)
        .offset(offset)
        .limit(limit)
        .subquery()
    )
    requests = select(func.count()).select_from(Capture).where(Capture.bin_id == page.c.id)
    newest = select(Capture.received_at).where(Capture.bin_id == page.c.id).order_by(Capture.id.desc()).limit(1)
    shares = select(func.count()).select_from(ShareLink).where(ShareLink.bin_id == page.c.id)
    query = select(
        page.c.id,
        page.c.created_at,
        page.c.expires_at,
        requests.scalar_subquery(),
        newest.scalar_subquery(),
        shares.scalar_subquery(),
    ).order_by(page.c.created_at.desc(), page.c.id)
    return [
        BinOverview(bin_id, created, expires, count or 0, last, share_count or 0)
        for bin_id, created, expires, count, last, share_count in db.session.execute(query)
    ]
