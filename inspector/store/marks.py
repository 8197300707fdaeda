"""The capture marks of watched bins (watch.py): what changed, from one cheap query."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select

from inspector.db import db
from inspector.models import Capture


def marks_of(bin_ids: Collection[str], above_id: int) -> list[tuple[str, int, int, int]]:
    """For each of `bin_ids` with captures of id > `above_id`: (bin id, rows, highest id,
    analysed rows); bins without such captures are left out. An index range per bin
    (`ix_captures_bin_id_id`): its cost follows the watched bins' new captures, not every
    capture the server takes."""
    if not bin_ids:
        return []
    query = (
        select(Capture.bin_id, func.count(), func.max(Capture.id), func.count(Capture.verdict))
        .where(Capture.bin_id.in_(list(bin_ids)), Capture.id > above_id)
        .group_by(Capture.bin_id)
    )
    return [(bin_id, rows, highest, analysed) for bin_id, rows, highest, analysed in db.session.execute(query)]
