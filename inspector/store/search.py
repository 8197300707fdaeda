"""SQL that narrows a search before Python decides: `text=` pre-filters and the scan window.

`text_prefilter` keeps every row `matchers.misses` could accept for a `text` term and drops
only rows it certainly rejects (matchers.py: "SQL only narrows the rows read"). The matcher
searches, lower-cased, the body (inflated when gzip/deflate), the headers as `name: value`
lines, the raw query string and its decoded `key=value` pairs. For an ASCII needle SQL can test
the stored columns directly, except where they differ from that text:
- an encoded body (Content-Encoding: inflated in Python): such rows are kept;
- headers are stored as JSON (`["name", "value"]`, non-ASCII as \\uXXXX): a needle with `"`,
  `\\`, `:` or a control character is not narrowed at all;
- a query string with `%` or `+` decodes to other text: such rows are kept; a needle with `=`
  keeps every row with a query string (`a&b` decodes to `a=` and `b=`);
- two non-ASCII characters lower-case to ASCII (K KELVIN SIGN → k, İ → i̇): rows holding them
  are kept when the needle has a k or an i.
A non-ASCII needle is not narrowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from inspector.db import db
from inspector.models import Capture

_UNSAFE_FOR_HEADERS = frozenset('"\\:')
# K KELVIN SIGN and İ LATIN CAPITAL LETTER I WITH DOT ABOVE: the non-ASCII characters whose
# str.lower() holds an ASCII letter.
_FOLDS_TO_ASCII = {"k": "\u212a", "i": "\u0130"}


def text_prefilter(needle: str) -> ColumnElement[bool] | None:
    """A condition every capture the `text` matcher `needle` matches passes (None: SQL cannot
    narrow this needle; see the module docstring)."""
    wanted = needle.lower()
    if not wanted.isascii() or any(ord(char) < 0x20 or char in _UNSAFE_FOR_HEADERS for char in wanted):
        return None
    headers = _folded(cast(Capture.headers, String))
    query = _folded(Capture.query_string)
    keep: list[Any] = [
        _lowered_body_contains(wanted),
        _contains(headers, wanted),
        _contains(query, wanted),
        _contains(query, "%"),
        _contains(query, "+"),
        _contains(headers, '"content-encoding"'),
    ]
    if "=" in wanted:
        keep.append(Capture.query_string != "")
    for letter, char in _FOLDS_TO_ASCII.items():
        if letter in wanted:
            escaped = char.encode("ascii", "backslashreplace").decode()  # as JSON spells it: \\u212a
            keep += [
                _body_has_bytes(char.encode()),
                _contains(headers, escaped),
                _contains(cast(Capture.headers, String), char),
                _contains(Capture.query_string, char),
            ]
    return or_(*keep)


def _folded(column: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[str]:
    """The text with ASCII letters lower-cased, and only those: SQLite's lower() (without the
    ICU extension); on PostgreSQL lower() under the "C" collation (the database's own locale
    could fold otherwise: in Turkish, I is not i)."""
    if db.engine.dialect.name == "sqlite":
        return func.lower(column)
    return func.lower(column.collate("C"))


def _contains(column: ColumnElement[str] | InstrumentedAttribute[str], needle: str) -> ColumnElement[bool]:
    """A plain substring test (no LIKE wildcards to escape)."""
    if db.engine.dialect.name == "sqlite":
        return func.instr(column, literal(needle)) > 0
    return func.strpos(column, literal(needle)) > 0


def _lowered_body_contains(needle: str) -> ColumnElement[bool]:
    """The body, ASCII letters lower-cased, holds the ASCII `needle`. SQLite's lower() folds
    ASCII only; on PostgreSQL the bytes are spelled as text by encode(…, 'escape') (bytes
    over 0x7f and NUL as \\nnn, which an ASCII needle without `\\` cannot match into), then
    folded as `_folded` does."""
    if db.engine.dialect.name == "sqlite":
        return func.instr(func.lower(Capture.body), literal(needle)) > 0
    return func.strpos(_folded(func.encode(Capture.body, "escape")), literal(needle)) > 0


def _body_has_bytes(needle: bytes) -> ColumnElement[bool]:
    """The body holds the bytes `needle` (all over 0x7f); PostgreSQL's encode(…, 'escape')
    spells each such byte as \\nnn."""
    if db.engine.dialect.name == "sqlite":
        return func.instr(Capture.body, needle) > 0
    spelled = "".join(f"\\{byte:03o}" for byte in needle)
    return func.strpos(func.encode(Capture.body, "escape"), literal(spelled)) > 0


def in_bin(bin_id: str) -> ColumnElement[bool]:
    """The bin's captures, for a query that scans them newest first (with `newest_first`).
    PostgreSQL gets a range it cannot fold into the ordering: with `bin_id = :b ORDER BY id`
    it walks the primary key through every bin's rows (expecting to find matches early),
    with this it reads the bin's index."""
    if db.engine.dialect.name == "sqlite":
        return Capture.bin_id == bin_id
    return and_(Capture.bin_id >= bin_id, Capture.bin_id <= bin_id)


def newest_first() -> tuple[ColumnElement[Any], ...]:
    """The ordering that goes with `in_bin`."""
    if db.engine.dialect.name == "sqlite":
        return (Capture.id.desc(),)
    return (Capture.bin_id.desc(), Capture.id.desc())


def window_floor(bin_id: str, before: int | None, rows: int) -> int | None:
    """The id of the `rows`-th newest capture of the bin below `before` (all when None): a
    search bounded to `rows` rows looks at ids from this one up. None when the bin has no more
    than that many (the window reaches its oldest capture). Index-only on both engines."""
    query = select(Capture.id).where(Capture.bin_id == bin_id)
    if before is not None:
        query = query.where(Capture.id < before)
    return db.session.scalar(query.order_by(Capture.id.desc()).offset(rows - 1).limit(1))
