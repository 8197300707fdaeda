"""The captures a bin export holds: those that pass the matchers, newest first, with their bodies,
read a batch at a time so an export of any size holds a bounded amount in memory."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from inspector import store
from inspector.backup import export as backup_export
from inspector.db import db
from inspector.matchers import Matchers
from inspector.models import Capture

# Captures whose ids are looked up per list query, and body bytes read at once (one larger
# body is read alone). A matcher that reads bodies (text, json) has the list query load them,
# so those lists are short: at most BATCH_WITH_BODIES bodies (10 MiB each at most) are held.
BATCH = 200
BATCH_WITH_BODIES = 8
BODY_BYTES_PER_READ = backup_export.BODY_BYTES_PER_READ


def exported_rows(bin_id: str, matchers: Matchers) -> Iterator[Capture]:
    """The bin's captures that pass `matchers`, newest first, bodies loaded; nothing when the
    bin has none (or is deleted meanwhile). The matchers are those of the list API
    (store.list_captures), applied to the whole bin. Rows handed out are expunged from the
    session once the next read starts: hold no reference to them across iterations."""
    before: int | None = None
    batch = BATCH_WITH_BODIES if matchers.needs_body else BATCH
    while True:
        listed = store.list_captures(bin_id, limit=batch, before=before, matchers=matchers)
        sizes = [(row.id, row.body_size) for row in listed]
        db.session.expunge_all()  # the listed rows: the reads below load them again, with bodies
        for ids in backup_export.chunks_by_size(sizes, BODY_BYTES_PER_READ):
            query = select(Capture).where(Capture.bin_id == bin_id, Capture.id.in_(ids)).order_by(Capture.id.desc())
            yield from db.session.scalars(query)
            db.session.expunge_all()
        if len(listed) < batch:
            return
        before = sizes[-1][0]
