"""Captures: list, page, stream, count, delete and prune them; exact counts over their analysis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, Select, TextClause, and_, bindparam, delete, func, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute, defer
from sqlalchemy.orm.strategy_options import _AbstractLoad

from inspector.db import db
from inspector.matchers import NO_MATCHERS, Matchers, is_glob, misses, sql_glob
from inspector.models import Bin, Capture
from inspector.store.bins import delete_bin, expired_bin_ids
from inspector.store.sql import SUMMARY_ONLY, execute_dml


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
    matchers: Matchers = NO_MATCHERS,
) -> list[Capture]:
    """Captures of a bin that pass the filters and `matchers`, newest first, without their
    bodies loaded (an empty list when none).

    `before`/`after` are exclusive id bounds; `q` is a substring searched (case-insensitively
    for text fields) in method, path, query string, content type, remote address and body;
    `provider` (an id, or "none"), `event` and `verdict` filter exactly. Matchers SQL cannot
    decide are checked row by row (inspector/matchers.py), reading on until `limit` pass.
    """
    query = select(Capture).options(*_loaded_for(matchers)).where(Capture.bin_id == bin_id)
    if provider:
        query = query.where(_provider_is(provider))
    if event:
        query = query.where(Capture.event == event)
    if verdict:
        query = query.where(Capture.verdict == verdict)
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
    query = query.where(*_matcher_conditions(matchers))
    newest_first = query.order_by(Capture.id.desc())
    if not _left_to_python(matchers):
        if before is not None:
            newest_first = newest_first.where(Capture.id < before)
        return list(db.session.scalars(newest_first.limit(limit)))
    return _checked(newest_first, matchers, limit=limit, before=before)


def count_matching(bin_id: str, matchers: Matchers) -> int:
    """How many captures of the bin pass `matchers` (unanalysed ones do not pass a matcher
    on provider, event or verdict)."""
    conditions = _matcher_conditions(matchers)
    if not _left_to_python(matchers):
        count = select(func.count()).select_from(Capture).where(Capture.bin_id == bin_id, *conditions)
        return int(db.session.execute(count).scalar_one())
    rows = select(Capture).options(*_loaded_for(matchers)).where(Capture.bin_id == bin_id, *conditions)
    return len(_checked(rows.order_by(Capture.id.desc()), matchers, limit=None))


def wait_candidates(bin_id: str, after_id: int, matchers: Matchers, limit: int = 100) -> list[Capture]:
    """Captures with id > after_id, oldest first, every one of them: a wait examines each
    (it reports the nearest misses and the newest id examined). Bodies are loaded only when
    a matcher reads them."""
    query = select(Capture).options(*_loaded_for(matchers)).where(Capture.bin_id == bin_id, Capture.id > after_id)
    return list(db.session.scalars(query.order_by(Capture.id).limit(limit)))


# Rows read per query while checking matchers row by row (bodies are read for text and JSON).
_CHECK_BATCH = 200
_CHECK_BATCH_WITH_BODIES = 25


def _checked(
    newest_first: Select[Capture], matchers: Matchers, *, limit: int | None, before: int | None = None
) -> list[Capture]:
    """The first `limit` rows of the query (all when None) that pass `matchers`, read in
    batches from `before` downwards."""
    batch = _CHECK_BATCH_WITH_BODIES if matchers.needs_body else _CHECK_BATCH
    found: list[Capture] = []
    while limit is None or len(found) < limit:
        page = newest_first if before is None else newest_first.where(Capture.id < before)
        rows = list(db.session.scalars(page.limit(batch)))
        found += [row for row in rows if not misses(matchers, row)]
        if len(rows) < batch:
            break
        before = rows[-1].id
        if matchers.needs_body:
            db.session.expunge_all()  # bodies already checked need not stay in memory
    return found if limit is None else found[:limit]


def _loaded_for(matchers: Matchers) -> tuple[_AbstractLoad, ...]:
    """Columns left unread: bodies unless a matcher reads them (text, JSON)."""
    return (defer(Capture.signature),) if matchers.needs_body else SUMMARY_ONLY


def _provider_is(provider: str) -> ColumnElement[bool]:
    """`provider` is an id, or "none": analysed, and no provider detected."""
    if provider == "none":
        return and_(Capture.provider_id.is_(None), Capture.verdict.is_not(None))
    return Capture.provider_id == provider


def _matcher_conditions(matchers: Matchers) -> list[ColumnElement[bool]]:
    """SQL for the matchers it can narrow by (see matchers.py; the rest are checked per row)."""
    conditions: list[ColumnElement[bool]] = []
    for term in matchers.terms:
        condition: ColumnElement[bool] | None = None
        if term.name == "method":
            condition = func.upper(Capture.method) == term.value.upper()
        elif term.name == "provider":
            condition = _provider_is(term.value)
        elif term.name == "verdict":
            condition = Capture.verdict == term.value
        elif term.name == "event":
            condition = _glob_condition(Capture.event, term.value)
        elif term.name == "path":
            condition = _glob_condition(Capture.path, term.value)
        if condition is not None:
            conditions.append(condition)
    return conditions


def _glob_condition(column: InstrumentedAttribute[Any], pattern: str) -> ColumnElement[bool] | None:
    if not is_glob(pattern):
        return column == pattern
    like = sql_glob(pattern)
    return None if like is None else column.like(like, escape="\\")


def _left_to_python(matchers: Matchers) -> bool:
    """Whether some matcher is not decided exactly by `_matcher_conditions`: the row-level
    ones, and globs (SQLite's LIKE ignores case; a character class has no LIKE)."""
    for term in matchers.terms:
        if term.name in ("method", "provider", "verdict"):
            continue
        if term.name in ("event", "path") and not is_glob(term.value):
            continue
        return True
    return False


def _body_contains(needle: bytes) -> ColumnElement[bool] | TextClause:
    """A byte-substring test on the body (LIKE does not work on SQLite blobs)."""
    if db.engine.dialect.name == "sqlite":
        return func.instr(Capture.body, needle) > 0
    return text("position(:needle in captures.body) > 0").bindparams(bindparam("needle", needle, type_=LargeBinary))


def captures_since(bin_id: str, after_id: int, limit: int = 100) -> list[Capture]:
    """Captures with id > after_id, oldest first (for event streams), bodies not loaded."""
    query = (
        select(Capture)
        .options(*SUMMARY_ONLY)
        .where(Capture.bin_id == bin_id, Capture.id > after_id)
        .order_by(Capture.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def highest_capture_id() -> int:
    """The highest capture id there is (0 when there is none)."""
    return int(db.session.scalar(select(func.max(Capture.id))) or 0)


def capture_marks(above_id: int) -> list[tuple[str, int, int, int]]:
    """Per bin, over its captures with id > `above_id`: (bin id, rows, highest id, analysed
    rows). A range of the primary key, so it stays cheap however many rows the table holds."""
    query = (
        select(Capture.bin_id, func.count(), func.max(Capture.id), func.count(Capture.verdict))
        .where(Capture.id > above_id)
        .group_by(Capture.bin_id)
    )
    return [(bin_id, rows, highest, analysed) for bin_id, rows, highest, analysed in db.session.execute(query)]


def captures_by_ids(bin_id: str, ids: set[int] | list[int]) -> list[Capture]:
    """Those of `ids` that are captures of the bin (missing ones are left out), oldest
    first, bodies not loaded."""
    query = select(Capture).options(*SUMMARY_ONLY).where(Capture.bin_id == bin_id, Capture.id.in_(list(ids)))
    return list(db.session.scalars(query.order_by(Capture.id)))


def recent_captures(bin_id: str, since: datetime, limit: int = 100) -> list[Capture]:
    """Captures received at or after `since`, oldest id first, bodies not loaded."""
    query = (
        select(Capture)
        .options(*SUMMARY_ONLY)
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
    return db.session.execute(select(func.count()).select_from(Capture).where(Capture.bin_id == bin_id)).scalar_one()


def delete_capture(bin_id: str, capture_id: int) -> bool:
    """Delete one capture; False when it is not in that bin."""
    deleted = execute_dml(delete(Capture).where(Capture.bin_id == bin_id, Capture.id == capture_id))
    db.session.commit()
    return deleted > 0


def clear_captures(bin_id: str) -> int:
    """Delete every capture of the bin; return how many there were."""
    deleted = execute_dml(delete(Capture).where(Capture.bin_id == bin_id))
    db.session.commit()
    return deleted


def prune(now: datetime, *, default_max: int, ttl_days: int) -> dict[str, int]:
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
            pruned += execute_dml(delete(Capture).where(Capture.bin_id == bin_id, Capture.id < boundary))
    db.session.commit()
    expired = 0
    for bin_id in expired_bin_ids(now):  # ephemeral bins whose end has come
        expired += int(delete_bin(bin_id))
    if ttl_days > 0:
        cutoff = now - timedelta(days=ttl_days)
        recent = select(Capture.id).where(Capture.bin_id == Bin.id, Capture.received_at >= cutoff).exists()
        stale = list(db.session.scalars(select(Bin.id).where(Bin.created_at < cutoff, ~recent)))
        for bin_id in stale:
            expired += int(delete_bin(bin_id))
    return {"captures": pruned, "bins": expired}


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
