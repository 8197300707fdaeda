"""What the analyser reads and writes: unanalysed captures, bins' generations, and
the guarded write of finished analyses (through the capture path's group commit on SQLite)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from inspector.capture import insert
from inspector.capture.insert import Committed
from inspector.db import db
from inspector.models import Bin, Capture
from inspector.signing.analysis import Analysis, captured_from_row, signature_json

_CAPTURE_COLUMNS = (
    Capture.id,
    Capture.bin_id,
    Capture.received_at,
    Capture.method,
    Capture.path,
    Capture.query_string,
    Capture.headers,
    Capture.remote_addr,
    Capture.content_type,
    Capture.body,
    Capture.body_size,
    Capture.body_truncated,
    Capture.body_incomplete,
    Capture.redacted,
)
_UPDATE = (
    "UPDATE captures SET provider_id = {p}, event = {p}, delivery_id = {p}, verdict = {p}, signature = {p} "
    "WHERE id = {p} AND verdict IS NULL "
    "AND (SELECT analysis_generation FROM bins WHERE bins.id = captures.bin_id) = {p}"
)
_SQL = {
    "sqlite": {"update": _UPDATE.format(p="?")},
    "postgresql": {
        "update": _UPDATE.format(p="%s"),
        # Holds the bins' generations still until the writes commit (a secret change waits).
        "lock_bins": "SELECT id FROM bins WHERE id = ANY(%s) ORDER BY id FOR SHARE",
    },
}


@dataclass(frozen=True)
class Result:
    """One finished analysis, with the generation of the bin's secrets it was made with."""

    capture_id: int
    bin_id: str
    generation: int
    analysis: Analysis


def unanalysed(ids: Sequence[int]) -> list[Committed]:
    """Those of `ids` that are still unanalysed, read back as the capture path stored them."""
    query = select(*_CAPTURE_COLUMNS).where(Capture.id.in_(list(ids)), Capture.verdict.is_(None))
    rows = db.session.execute(query.order_by(Capture.id)).all()
    return [Committed(row.id, row.bin_id, captured_from_row(row), tuple(row.redacted or ())) for row in rows]


def select_columns() -> Any:
    return select(*_CAPTURE_COLUMNS)


def unanalysed_ids_of_bin(bin_id: str, *, after: int, limit: int) -> list[int]:
    """Ids of the bin's unanalysed captures above `after`, oldest first."""
    query = select(Capture.id).where(Capture.bin_id == bin_id, Capture.verdict.is_(None), Capture.id > after)
    return list(db.session.scalars(query.order_by(Capture.id).limit(limit)))


def unanalysed_ids_since(received_since: datetime, *, limit: int) -> set[int]:
    """Ids of unanalysed captures received at or after `received_since` (at most `limit`)."""
    query = select(Capture.id).where(Capture.verdict.is_(None), Capture.received_at >= received_since)
    return set(db.session.scalars(query.order_by(Capture.id).limit(limit)))


def backlog_page(received_before: datetime, *, limit: int) -> list[int]:
    """Up to `limit` ids of unanalysed captures received before `received_before`, in id
    order from a random point of that backlog (wrapping around), so that several processes
    working on one backlog mostly take different rows."""
    older = (Capture.verdict.is_(None), Capture.received_at < received_before)
    low, high = db.session.execute(select(func.min(Capture.id), func.max(Capture.id)).where(*older)).one()
    if low is None:
        return []
    start = random.randint(low, high)
    ids = list(
        db.session.scalars(select(Capture.id).where(*older, Capture.id >= start).order_by(Capture.id).limit(limit))
    )
    if len(ids) < limit:
        ids += db.session.scalars(
            select(Capture.id).where(*older, Capture.id < start).order_by(Capture.id).limit(limit - len(ids))
        )
    return ids


def bin_generations(bin_ids: Iterable[str]) -> list[tuple[str, int, str | None]]:
    """(bin id, analysis generation, public base URL) of those bins that exist."""
    query = select(Bin.id, Bin.analysis_generation, Bin.public_base_url).where(Bin.id.in_(list(bin_ids)))
    return [(bin_id, generation, base) for bin_id, generation, base in db.session.execute(query).all()]


def write(results: Sequence[Result]) -> int:
    """Store the analyses in one write transaction (the capture path's group commit on
    SQLite). A row already analysed, deleted, or whose bin changed generation meanwhile is
    left as it is (for another pass). Returns how many analyses were offered."""
    sql = _SQL[db.engine.dialect.name]
    params = [
        (
            r.analysis.provider_id,
            r.analysis.event,
            r.analysis.delivery_id,
            r.analysis.verification.status,
            json.dumps(signature_json(r.analysis), default=str),
            r.capture_id,
            r.generation,
        )
        # In id order: two writers locking the same rows in one order wait for each other
        # instead of deadlocking (PostgreSQL).
        for r in sorted(results, key=lambda r: r.capture_id)
    ]
    bin_ids = sorted({r.bin_id for r in results})

    def work(cursor: Any) -> int:
        if "lock_bins" in sql:
            cursor.execute(sql["lock_bins"], (bin_ids,))
        cursor.executemany(sql["update"], params)
        return len(params)

    return int(insert.run_write(work))


def count_unanalysed() -> int:
    """How many captures wait for their analysis, in every bin (the partial index
    ix_captures_unanalysed holds exactly them)."""
    return db.session.execute(select(func.count()).select_from(Capture).where(Capture.verdict.is_(None))).scalar_one()
