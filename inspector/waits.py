"""Server-side waits: hold a request until a matching capture arrives (DESIGN §4 `…/wait`).

A wait reads nothing while nothing changes: it sleeps in the process's `CaptureMarks`
(watch.py) until its bin's mark moves — one reader per process for every stream and wait —
and queries its bin only then. A capture that fails only on provider, event or verdict because it is not analysed
yet holds the wait's cursor until its analysis is written (matchers.outcome "pending").

Between looks the wait gives its database connection back, so a thousand waits hold no pool.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from inspector import matchers as matching
from inspector import store
from inspector.db import db
from inspector.models import Capture
from inspector.shapes import iso
from inspector.stream import LATE_COMMIT_WINDOW

# How many captures a failed wait reports, newest first, with what each missed.
NEAR_MISSES = 5
# Rows examined per query (fewer when their bodies are read).
PAGE = 100
PAGE_WITH_BODIES = 20
# How often a wait checks that its bin still exists.
BIN_CHECK_S = 1.0
# A capture held for its analysis is looked at again when the marks move (its analysis was
# written) or after this long (an old row re-verified after a secret change moves no mark).
PENDING_RECHECK_S = 0.5


class BinGoneError(Exception):
    """The bin was deleted (or expired) while the wait was open."""


@dataclass
class WaitResult:
    """The match rendered by the caller (None on timeout), the newest capture id examined,
    and, on timeout, the nearest captures with what they missed."""

    match: dict[str, Any] | None
    last_id: int
    near_misses: list[dict[str, Any]] = field(default_factory=list)


def wait_for_capture(
    app: Flask,
    bin_id: str,
    wanted: matching.Matchers,
    *,
    after: int,
    timeout_s: float,
    render: Callable[[Capture], dict[str, Any]],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """The oldest capture of the bin with id > `after` that passes `wanted`, as soon as there
    is one, or after `timeout_s` a timed-out result. Runs in an app context; raises
    BinGoneError when the bin disappears meanwhile."""
    marks = app.extensions["hookloupe.capture_marks"]
    poll = float(app.config["WAIT_POLL_S"])  # only while a capture waits for its analysis
    lookback = db.engine.dialect.name == "postgresql"
    deadline = clock() + timeout_s
    cursor, examined = after, set[int]()
    near: deque[dict[str, Any]] = deque(maxlen=NEAR_MISSES)
    seen_mark = mark = marks.wait_change(bin_id, None, 0)
    bin_checked = queried = clock()
    pending, look = False, True
    try:
        while True:
            if look or mark != seen_mark or (pending and clock() - queried >= PENDING_RECHECK_S):
                look = False
                seen_mark, queried = mark, clock()
                page = PAGE_WITH_BODIES if wanted.needs_body else PAGE
                rows = store.wait_candidates(bin_id, cursor, wanted, limit=page)
                if lookback:  # a PostgreSQL row may commit after a higher id did
                    rows = _late_rows(bin_id, after, cursor, examined, wanted) + rows
                pending = False
                for row in rows:
                    result = matching.outcome(wanted, row)
                    if result == "match":
                        return WaitResult(render(row), max(cursor, row.id))
                    if result == "pending":
                        pending = True
                        break
                    examined.add(row.id)
                    cursor = max(cursor, row.id)
                    near.appendleft(_near_miss(wanted, row))
                if len(rows) >= page and not pending:
                    look = True  # more rows wait behind these: read on before sleeping
                    continue
            if clock() - bin_checked >= BIN_CHECK_S:
                bin_checked = clock()
                bin_ = store.get_bin(bin_id)
                if bin_ is None or (bin_.expires_at is not None and bin_.expires_at <= datetime.now(UTC)):
                    raise BinGoneError(bin_id)
            db.session.close()  # give the connection back while sleeping
            left = deadline - clock()
            if left <= 0:
                return WaitResult(None, cursor, list(near))
            if pending:
                sleep(min(poll, left))
                mark = marks.wait_change(bin_id, None, 0)
            else:
                mark = marks.wait_change(bin_id, seen_mark, min(left, BIN_CHECK_S))
    finally:
        db.session.close()


def _late_rows(bin_id: str, after: int, cursor: int, examined: set[int], wanted: matching.Matchers) -> list[Capture]:
    """Rows below the cursor (and above `after`) that committed late, not examined yet."""
    since = datetime.now(UTC) - LATE_COMMIT_WINDOW
    recent = store.recent_captures(bin_id, since)
    late = [row for row in recent if after < row.id < cursor and row.id not in examined]
    if late and wanted.needs_body:
        late = store.wait_candidates(bin_id, min(row.id for row in late) - 1, wanted, limit=PAGE_WITH_BODIES)
        late = [row for row in late if row.id < cursor and row.id not in examined]
    return late


def _near_miss(wanted: matching.Matchers, row: Capture) -> dict[str, Any]:
    return {
        "id": row.id,
        "method": row.method,
        "path": row.path,
        "received_at": iso(row.received_at),
        "missed": matching.misses(wanted, row),
    }
