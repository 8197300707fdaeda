"""Deleting many captures without stalling capture: clear-all and pruning, in bounded batches.

A bin's captures are scattered over the table (bins share it in arrival order), so deleting
100,000 of them rewrites ~100,000 pages. One DELETE would hold SQLite's only write lock for
seconds, and every capture of every worker would wait. Here each batch of DELETE_BATCH rows is
a write transaction of its own — on SQLite through the capture path's group commit
(`insert.run_write`), so captures queue between batches instead of behind the whole delete —
and the thread pauses between batches (under gevent a sleep lets the worker's other greenlets
run; it also lets another process take SQLite's lock). PostgreSQL takes the same path: shorter
transactions, fewer row locks held at once.

Pinned captures (`Capture.pinned`) are never deleted here: not by pruning, not by clear-all.
They count toward a bin's max_requests (so pruning reads only the bin's index to find its
boundary) but are never the ones dropped; a bin can therefore hold more than its limit by its
pinned captures older than the boundary. Only deleting the bin (store.delete_bin) removes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from inspector.capture import insert
from inspector.db import db
from inspector.models import Bin, Capture
from inspector.store.bins import delete_bin, expired_bin_ids

# Rows per delete transaction: ~30-80 ms on SQLite for rows scattered over the table.
DELETE_BATCH = 1000
# Pause between two batches (and between two bins' checks while pruning).
PAUSE_S = 0.005

_DELETE = (
    "DELETE FROM captures WHERE id IN "
    "(SELECT id FROM captures WHERE bin_id = {p} AND id < {p} AND NOT pinned ORDER BY id LIMIT {p})"
)
_DELETE_SQL = {"sqlite": _DELETE.format(p="?"), "postgresql": _DELETE.format(p="%s")}
# Larger than any capture id: "below" when the whole bin goes.
_NO_BOUND = 2**62


def delete_captures(bin_id: str, *, below: int | None = None) -> int:
    """Delete the bin's unpinned captures with an id below `below` (every one when None), oldest
    first, DELETE_BATCH rows per committed transaction; the number deleted (0 for an unknown bin).

    Captures arriving meanwhile are stored between batches. The deletes are committed as they
    go: if this fails half-way (DatabaseUnavailableError), the rows deleted so far stay
    deleted. Ends the session's transaction first, so the session reads the result after."""
    db.session.commit()
    sql = _DELETE_SQL[db.engine.dialect.name]
    params = (bin_id, _NO_BOUND if below is None else below, DELETE_BATCH)

    def batch(cursor: Any) -> int:
        cursor.execute(sql, params)
        return int(cursor.rowcount)

    deleted = 0
    while True:
        done = int(insert.run_write(batch))
        deleted += done
        if done < DELETE_BATCH:
            return deleted
        _pause()


def clear_captures(bin_id: str) -> int:
    """Delete every unpinned capture of the bin (in batches, see the module docstring); return
    how many were deleted. They are all gone when it returns, except captures that arrived while it ran
    and are newer than every capture it saw (a clear empties the bin as of when it started)."""
    newest = db.session.scalar(select(func.max(Capture.id)).where(Capture.bin_id == bin_id))
    return delete_captures(bin_id, below=(newest or 0) + 1)  # a write even when empty, as before


def bin_caps() -> dict[str, int | None]:
    """Every bin's own max_requests (None: the instance default), by bin id."""
    return {bin_id: cap for bin_id, cap in db.session.execute(select(Bin.id, Bin.max_requests))}


def bins_captured_above(above_id: int) -> set[str]:
    """The bins with captures whose id is above `above_id`. A range of the primary key: cheap
    however big the table is, as long as the range is recent."""
    # The ordered subquery keeps SQLite on the primary key range (DISTINCT alone makes it read
    # all of ix_captures_bin_id_id).
    recent = select(Capture.bin_id, Capture.id).where(Capture.id > above_id).order_by(Capture.id).subquery()
    return set(db.session.scalars(select(recent.c.bin_id).distinct()))


def newest_settled_id(above_id: int, settled_before: datetime) -> int:
    """The highest capture id above `above_id` received before `settled_before` (else
    `above_id`): every capture up to it is committed, unless a transaction stayed open that
    long (PostgreSQL hands out ids before commit). Reads the primary key backwards from the
    newest capture until one that old."""
    query = select(Capture.id).where(Capture.id > above_id, Capture.received_at < settled_before)
    return int(db.session.scalar(query.order_by(Capture.id.desc()).limit(1)) or above_id)


def prune(now: datetime, *, default_max: int, ttl_days: int, candidates: Iterable[str] | None = None) -> dict[str, int]:
    """Delete unpinned captures beyond each bin's cap (oldest first, in batches) and bins expired or idle
    past the TTL. `candidates` are the bins that may be over their cap (None: every bin); bins
    not among them are not counted. Returns `{"captures": n, "bins": n}`. Safe to run from
    several processes at once (a row already deleted is simply not deleted again)."""
    caps = bin_caps()
    checked = caps.keys() if candidates is None else [bin_id for bin_id in candidates if bin_id in caps]
    pruned = 0
    for bin_id in sorted(checked):
        boundary = _oldest_kept(bin_id, caps[bin_id] or default_max)
        if boundary is not None:
            pruned += delete_captures(bin_id, below=boundary)
        db.session.commit()  # ends the read: the next bin's check sees the deletes
        _pause()
    expired = 0
    for bin_id in expired_bin_ids(now):  # ephemeral bins whose end has come
        expired += int(_delete_whole_bin(bin_id))
    if ttl_days > 0:
        for bin_id in _idle_bins(now - timedelta(days=ttl_days)):
            expired += int(_delete_whole_bin(bin_id))
    return {"captures": pruned, "bins": expired}


def _pause() -> None:
    """Let captures through: other threads (greenlets under gevent) and processes run."""
    time.sleep(PAUSE_S)


def _oldest_kept(bin_id: str, keep: int) -> int | None:
    """The id of the oldest capture a bin keeping `keep` keeps; None when it holds no more than
    that. Reads at most `keep` entries of the bin's index."""
    query = select(Capture.id).where(Capture.bin_id == bin_id).order_by(Capture.id.desc())
    return db.session.scalar(query.offset(keep - 1).limit(1))


def _idle_bins(cutoff: datetime) -> list[str]:
    """Bins created before `cutoff` with no capture received since. Ids grow with arrival, so
    the newest capture by id answers for most bins with one index lookup; only a bin whose
    newest capture is old is checked in full."""
    newest = (
        select(Capture.received_at)
        .where(Capture.bin_id == Bin.id)
        .order_by(Capture.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    maybe = list(
        db.session.scalars(select(Bin.id).where(Bin.created_at < cutoff, newest.is_(None) | (newest < cutoff)))
    )
    idle = []
    for bin_id in maybe:
        recent = select(Capture.id).where(Capture.bin_id == bin_id, Capture.received_at >= cutoff).limit(1)
        if db.session.scalar(recent) is None:
            idle.append(bin_id)
    return idle


def _delete_whole_bin(bin_id: str) -> bool:
    """The bin's captures in batches, then the bin (its pinned captures, and what arrived
    meanwhile) at once."""
    delete_captures(bin_id)
    return delete_bin(bin_id)
