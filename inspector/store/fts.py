"""Text search through the index (inspector/search_index.py): which captures a `text=` needle may match.

`text_candidates(needle)` is a condition on Capture.id that keeps every capture the `text`
matcher could accept: the index's hits for the lower-cased needle, the captures whose text
was longer than the index holds (`cut`), and the captures not indexed yet (listed in
capture_search_pending; the analyser indexes them soon after, within a share of its time
while captures arrive). The matcher still decides each row (matchers.py), so the index only
has to never miss.

The index answers needles of MIN_CHARS characters or more (a trigram needs three); a shorter
needle, or a database without the index, is narrowed by store/search.py and scanned.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    column,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
    union_all,
)

from inspector import search_index
from inspector.db import db
from inspector.models import Capture

MIN_CHARS = 3

_exists: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
_PENDING = table("capture_search_pending", column("capture_id"))
_CAPTURE_TEXT = table("capture_text", column("capture_id"), column("text"), column("cut"))


def enabled() -> bool:
    """Whether this database has the index (looked up once per engine)."""
    engine = db.engine
    if engine not in _exists:
        _exists[engine] = search_index.exists(db.session.connection())
    return _exists[engine]


def usable(needle: str) -> bool:
    """Whether the index can narrow a search for `needle`."""
    return len(needle.lower()) >= MIN_CHARS and enabled()


def text_candidates(needle: str) -> ColumnElement[bool] | None:
    """A condition every capture the `text` matcher `needle` matches passes (see the module
    docstring); None when the index cannot answer this needle."""
    if not usable(needle):
        return None
    return Capture.id.in_(union_all(_hits(needle, exact=False), select(_PENDING.c.capture_id)))


def exact_hits(needle: str) -> ColumnElement[bool]:
    """The indexed captures whose whole text holds `needle` (a usable one): exactly those the
    `text` matcher accepts among the captures neither pending nor `cut` (a count trusts it)."""
    return Capture.id.in_(_hits(needle, exact=True))


def uncertain() -> ColumnElement[bool]:
    """The captures the index cannot answer for: pending, or their text cut."""
    cut: Select[tuple[Any]]
    if db.engine.dialect.name == "sqlite":
        cut = select(literal_column("rowid")).select_from(table("capture_fts")).where(_fts_match('cut:"yes"'))
    else:
        cut = select(_CAPTURE_TEXT.c.capture_id).where(_CAPTURE_TEXT.c.cut)
    return Capture.id.in_(union_all(cut, select(_PENDING.c.capture_id)))


def _hits(needle: str, *, exact: bool) -> Select[tuple[Any]]:
    """Index rows holding the lower-cased needle; `cut` ones too unless `exact`. (FTS5
    folds case again: it may return more rows than Python's lower() would, never fewer.)"""
    wanted = needle.lower().replace("\0", " ")
    if db.engine.dialect.name == "sqlite":
        phrase = '"' + wanted.replace('"', '""') + '"'
        query = f'words:{phrase} NOT cut:"yes"' if exact else f'words:{phrase} OR cut:"yes"'
        return select(literal_column("rowid")).select_from(table("capture_fts")).where(_fts_match(query))
    like = "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    holds = _CAPTURE_TEXT.c.text.like(like, escape="\\")
    cut = _CAPTURE_TEXT.c.cut
    return select(_CAPTURE_TEXT.c.capture_id).where(and_(holds, not_(cut)) if exact else or_(holds, cut))


def _fts_match(query: str) -> ColumnElement[bool]:
    return text("capture_fts MATCH :fts_query").bindparams(fts_query=query)  # type: ignore[return-value]


def pending_count(at_most: int) -> int:
    """How many captures wait to be indexed (counted up to `at_most`)."""
    listed = select(_PENDING.c.capture_id).limit(at_most).subquery()
    return int(db.session.execute(select(func.count()).select_from(listed)).scalar_one())


def forget_engine(engine: Engine) -> None:
    """Look the index up again (after it was created or dropped under a running engine)."""
    _exists.pop(engine, None)
