"""Captures: list, page, stream, count and delete them; exact counts over their analysis."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, defer
from sqlalchemy.orm.strategy_options import _AbstractLoad

from inspector.db import db
from inspector.matchers import NO_MATCHERS, Matchers, is_glob, misses, sql_glob
from inspector.matchers import parse as parse_matchers
from inspector.models import Capture
from inspector.store import fts, search
from inspector.store.cleanup import clear_captures as clear_captures  # re-exported: store/__init__.py
from inspector.store.cleanup import prune as prune
from inspector.store.sql import SUMMARY_ONLY, execute_dml


class CaptureList(list[Capture]):
    """Captures found by `list_captures`, and where the search stopped: `scanned_to` is None
    when it went through to the bin's oldest capture (or found `limit`), else the id of the
    oldest capture it examined — the rest is older than that (pass it as `before`)."""

    scanned_to: int | None = None


# A bounded search (`scan_rows=`) also stops once it has spent this long checking rows in Python.
SCAN_S = 0.2
# What the API and the pages pass as `scan_rows`: one request searches this many of a bin's
# captures at most (~50 ms of SQL scan on SQLite when `text` is narrowed in SQL).
SCAN_ROWS = 20_000


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
    scan_rows: int | None = None,
) -> CaptureList:
    """Captures of a bin that pass the filters and `matchers`, newest first, without their
    bodies loaded (an empty list when none).

    `before`/`after` are exclusive id bounds; `q` is the search box's syntax
    (inspector/search_syntax.py: its matchers join `matchers`; InvalidInput when it is not
    valid); `provider` (an id, or "none"), `event` and `verdict` filter exactly. Matchers SQL
    cannot decide are checked row by row (inspector/matchers.py), reading on until `limit` pass.

    `scan_rows` bounds a search that reads rows (a matcher checked row by row that no index
    narrows): it looks only at the newest `scan_rows` captures of the bin below `before`, and
    stops checking rows after SCAN_S; `scanned_to` then says where to go on (see CaptureList).
    Filters and text searches served by an index are not bounded. None: search until `limit`
    are found or the bin ends.
    """
    if q:
        matchers = Matchers(matchers.terms + parse_matchers([("q", q)]).terms)
    by_python = _left_to_python(matchers)
    scanning = by_python
    in_bin = search.in_bin(bin_id) if scanning else Capture.bin_id == bin_id
    query = select(Capture).options(*_loaded_for(matchers)).where(in_bin)
    if provider:
        query = query.where(_provider_is(provider))
    if event:
        query = query.where(Capture.event == event)
    if verdict:
        query = query.where(Capture.verdict == verdict)
    if after is not None:
        query = query.where(Capture.id > after)
    query = query.where(*_matcher_conditions(matchers))
    if not scanning:  # served by an index: no scan to bound
        newest_first = query.order_by(Capture.id.desc())
        if before is not None:
            newest_first = newest_first.where(Capture.id < before)
        return CaptureList(db.session.scalars(newest_first.limit(limit)))
    if _index_served(matchers, scan_rows):  # the text index narrows to candidates: check them all
        return _indexed(query, matchers, limit, before, scan_rows)
    return _scanned(
        query,
        bin_id,
        matchers if by_python else NO_MATCHERS,
        limit=limit,
        before=before,
        scan_rows=scan_rows,
    )


def count_matching(bin_id: str, matchers: Matchers) -> int:
    """How many captures of the bin pass `matchers` (unanalysed ones do not pass a matcher
    on provider, event or verdict)."""
    return count_within(bin_id, matchers, scan_rows=None).count


@dataclass(frozen=True)
class MatchCount:
    """A count of matching captures: exact, or (`exact` False) a lower bound — those among
    the captures from `scanned_to` up; older ones were not examined."""

    count: int
    exact: bool = True
    scanned_to: int | None = None


def count_within(bin_id: str, matchers: Matchers, *, scan_rows: int | None = SCAN_ROWS) -> MatchCount:
    """Like `count_matching`; with `scan_rows`, matchers checked row by row look at no more
    than the bin's newest `scan_rows` captures and stop after SCAN_S (the count is then a
    lower bound). Counts SQL can decide are always exact."""
    conditions = _matcher_conditions(matchers)
    if not _left_to_python(matchers):
        count = select(func.count()).select_from(Capture).where(Capture.bin_id == bin_id, *conditions)
        return MatchCount(int(db.session.execute(count).scalar_one()))
    rows = select(Capture).options(*_loaded_for(matchers)).where(search.in_bin(bin_id), *conditions)
    if _index_served(matchers, scan_rows):  # the index's exact hits counted in SQL, the rest checked
        exact = [fts.exact_hits(term.value) for term in matchers.of("text")]
        sure = select(func.count()).select_from(Capture).where(Capture.bin_id == bin_id, *conditions, *exact)
        rest = _indexed(rows.where(fts.uncertain()), matchers, None, None, scan_rows)
        total = int(db.session.execute(sure).scalar_one()) + len(rest)
        return MatchCount(total, exact=rest.scanned_to is None, scanned_to=rest.scanned_to)
    found = _scanned(rows, bin_id, matchers, limit=None, before=None, scan_rows=scan_rows)
    return MatchCount(len(found), exact=found.scanned_to is None, scanned_to=found.scanned_to)


def wait_candidates(bin_id: str, after_id: int, matchers: Matchers, limit: int = 100) -> list[Capture]:
    """Captures with id > after_id, oldest first, every one of them: a wait examines each
    (it reports the nearest misses and the newest id examined). Bodies are loaded only when
    a matcher reads them."""
    query = select(Capture).options(*_loaded_for(matchers)).where(Capture.bin_id == bin_id, Capture.id > after_id)
    return list(db.session.scalars(query.order_by(Capture.id).limit(limit)))


# Rows read per query while checking matchers row by row (bodies are read for text and JSON).
_CHECK_BATCH = 200
_CHECK_BATCH_WITH_BODIES = 25
# A scanning query looks at no more than this many of the bin's captures: its id range is
# taken from the bin's index first, so that no statement runs long (on SQLite it holds up
# the whole worker) and PostgreSQL reads the bin's index rather than walking the primary key
# through every bin's rows.
_WINDOW_ROWS = 5000


def _scanned(
    query: Select[Capture],
    bin_id: str,
    matchers: Matchers,
    *,
    limit: int | None,
    before: int | None,
    scan_rows: int | None,
) -> CaptureList:
    """The first `limit` rows of the bin's `query` (all when None) that pass `matchers`,
    newest first from `before` down, read window by window of the bin's index. With
    `scan_rows`, it stops after that many of the bin's captures or SCAN_S, and `scanned_to`
    says where (see CaptureList)."""
    floor = None if scan_rows is None else search.window_floor(bin_id, before, scan_rows)
    deadline = None if scan_rows is None else time.monotonic() + SCAN_S
    batch = _CHECK_BATCH_WITH_BODIES if matchers.needs_body else _CHECK_BATCH
    found = CaptureList()
    while True:
        low = search.window_floor(bin_id, before, _WINDOW_ROWS)
        if floor is not None and (low is None or low < floor):
            low = floor
        window = query if low is None else query.where(Capture.id >= low)
        more = _checked(window.order_by(*search.newest_first()), matchers, found, limit, before, batch, deadline)
        if more is not None:  # out of time inside the window
            found.scanned_to = more
            return found
        if (limit is not None and len(found) >= limit) or low is None:
            return found
        before = low
        if low == floor or (deadline is not None and time.monotonic() >= deadline):
            found.scanned_to = low
            return found


def _checked(
    newest_first: Select[Capture],
    matchers: Matchers,
    found: CaptureList,
    limit: int | None,
    before: int | None,
    batch: int,
    deadline: float | None,
) -> int | None:
    """Add to `found` the rows of the query below `before` that pass `matchers`, read `batch`
    at a time, until `limit` are found or the rows end (None). Past `deadline` (monotonic) it
    stops after the batch in hand and returns the oldest id examined."""
    while limit is None or len(found) < limit:
        page = newest_first if before is None else newest_first.where(Capture.id < before)
        wanted = batch if limit is None or matchers else limit - len(found)
        rows = list(db.session.scalars(page.limit(wanted)))
        for row in rows:
            if not matchers or not misses(matchers, row):
                found.append(row)
                if limit is not None and len(found) == limit:
                    return None
        if len(rows) < wanted:
            return None
        before = rows[-1].id
        if matchers.needs_body:
            db.session.expunge_all()  # bodies already checked need not stay in memory
        if deadline is not None and time.monotonic() >= deadline:
            return before
    return None


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
        elif term.name == "text":
            condition = fts.text_candidates(term.value)
            if condition is None:
                condition = search.text_prefilter(term.value)
        elif term.name == "since":
            condition = Capture.received_at >= datetime.fromisoformat(term.value)
        elif term.name == "until":
            condition = Capture.received_at < datetime.fromisoformat(term.value)
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
        if term.name in ("method", "provider", "verdict", "since", "until"):
            continue
        if term.name in ("event", "path") and not is_glob(term.value):
            continue
        return True
    return False


def _index_served(matchers: Matchers, scan_rows: int | None) -> bool:
    """Whether every matcher left to Python is a `text` term the search index narrows, with
    fewer than `scan_rows` captures waiting to be indexed: its candidates are then few
    enough to check them all, without a scan window."""
    left = [term for term in matchers.terms if term.name not in ("method", "provider", "verdict", "since", "until")]
    left = [term for term in left if not (term.name in ("event", "path") and not is_glob(term.value))]
    if not left or not all(term.name == "text" and fts.usable(term.value) for term in left):
        return False
    return scan_rows is None or fts.pending_count(scan_rows) < scan_rows


def _indexed(
    query: Select[Capture], matchers: Matchers, limit: int | None, before: int | None, scan_rows: int | None
) -> CaptureList:
    """The candidates of an index-served search, checked newest first; with `scan_rows` it
    stops after SCAN_S, and `scanned_to` says where (see CaptureList)."""
    found = CaptureList()
    deadline = None if scan_rows is None else time.monotonic() + SCAN_S
    batch = _CHECK_BATCH_WITH_BODIES if matchers.needs_body else _CHECK_BATCH
    found.scanned_to = _checked(query.order_by(*search.newest_first()), matchers, found, limit, before, batch, deadline)
    return found


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
    # The ordered subquery keeps SQLite on the primary key: `GROUP BY bin_id` alone makes it
    # read all of ix_captures_bin_id_id instead (every capture of every bin).
    recent = select(Capture.bin_id, Capture.id, Capture.verdict).where(Capture.id > above_id).order_by(Capture.id)
    recent_rows = recent.subquery()
    query = select(
        recent_rows.c.bin_id, func.count(), func.max(recent_rows.c.id), func.count(recent_rows.c.verdict)
    ).group_by(recent_rows.c.bin_id)
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
