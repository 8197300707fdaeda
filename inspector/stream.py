"""Server-sent event streams of new captures, read from the database (the only shared state).

A stream polls for rows with id > the last one sent, so any worker on any host sees every
capture. On PostgreSQL two captures can commit out of id order; a short look-back sends a
row that committed late below the cursor, once.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask

from inspector import metrics, store
from inspector.bins import ascii_int
from inspector.models import Capture

if TYPE_CHECKING:
    from inspector.watch import CaptureMarks

# How long after its arrival a capture may still commit below the cursor (PostgreSQL).
LATE_COMMIT_WINDOW = timedelta(seconds=5)
# A page follows at most this many rows sent before their analysis, for their `update`.
MAX_AWAITED = 200
# An idle stream still wakes this often to end when its worker stops (a graceful stop waits
# for open connections).
SERVING_CHECK_S = 1.0


def sse_message(data: str, *, event: str | None = None, event_id: int | None = None) -> str:
    """One SSE message; multi-line data becomes several `data:` lines."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def parse_last_event_id(*candidates: str | None) -> int | None:
    """The first candidate that is a possible capture id (ASCII digits, at most MAX_ID), else
    None: any other value (a browser's stale id, "١٢", 30 digits) is ignored, never queried."""
    for value in candidates:
        parsed = ascii_int(value.strip()) if value is not None else None
        if parsed is not None:
            return parsed
    return None


def capture_events(
    app: Flask,
    bin_id: str,
    last_id: int,
    render: Callable[[Capture], str | None],
    *,
    event: str = "request",
    render_update: Callable[[Capture], str | None] | None = None,
    render_key: Hashable | None = None,
    alive: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """Yield SSE text: every capture of `bin_id` with id > `last_id`, in id order, as
    `render(row)` (a row rendered as None is skipped); a comment as heartbeat; ends when the
    bin is deleted or after STREAM_MAX_S. Reads only.

    A capture is sent once it is analysed, or once it has waited ANALYSIS_WAIT_S for it (then
    as it stands); later captures wait behind it, so order holds. With `render_update`, a
    capture sent before its analysis is sent again, rendered by it as event `update` without
    an id, once analysed.

    The streams of a process share their reads (StreamFeed): a bin's new rows are read once
    per change, and, for streams that give the same `render_key` (their render functions give
    the same text for a row), each row is rendered once. A render that reads a row's body
    must not give a key: shared rows carry no body.

    `alive()` (in an app context, every SERVING_CHECK_S) says whether the viewer may still see
    the bin: when it turns false (a share link revoked or expired) the stream sends event
    `access_ended` and ends."""
    poll = float(app.config["STREAM_POLL_S"])
    heartbeat = float(app.config["STREAM_HEARTBEAT_S"])
    wait_for_analysis = timedelta(seconds=float(app.config["ANALYSIS_WAIT_S"]))
    started = last_beat = clock()
    yield "retry: 1000\n\n"
    lookback = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    feed: StreamFeed = app.extensions.setdefault("hookloupe.stream_feed", StreamFeed())
    with app.app_context():
        seen = set() if not lookback else {row.id for row in _recent(bin_id)}
    unanalysed_sent: set[int] = set()
    serving: Callable[[], bool] = app.extensions.get("hookloupe.serving", lambda: True)
    # Ends early when the worker stops, so a graceful stop does not wait for open pages (they
    # reconnect, with Last-Event-ID, to a worker that is still serving).
    marks: CaptureMarks = app.extensions["hookloupe.capture_marks"]
    seen_mark: tuple[int, int, int] | None = None
    waiting = False  # rows held back for their analysis, or sent before it and awaited
    checked_alive = clock()
    while clock() - started < float(app.config["STREAM_MAX_S"]) and serving():
        if alive is not None and clock() - checked_alive >= SERVING_CHECK_S:
            checked_alive = clock()
            with app.app_context():
                still = alive()
            if not still:
                yield sse_message("access ended", event="access_ended")
                return
        # Query the bin only when something may have changed: the stream sleeps until its
        # bin's mark moves (watch.py), its heartbeat is due or, while rows wait for their
        # analysis, the next poll; and wakes every SERVING_CHECK_S to notice a stopping worker.
        # An idle page costs no query and no wake-up but its heartbeat's.
        if seen_mark is None:
            timeout = 0.0
        elif waiting:
            timeout = poll
        else:
            timeout = min(heartbeat - (clock() - last_beat), SERVING_CHECK_S)
        mark = marks.wait_change(bin_id, seen_mark, max(0.0, timeout))
        if mark == seen_mark and not waiting:
            if clock() - last_beat < heartbeat:
                continue
            with app.app_context():
                gone = not feed.bin_exists(bin_id, max_age=heartbeat / 2)
            if gone:
                yield sse_message("bin deleted", event="bin_deleted")
                return
            yield ": keep-alive\n\n"
            last_beat = clock()
            continue
        seen_mark = mark
        with app.app_context():
            since, recent = feed.rows(bin_id, mark, last_id, lookback=lookback, shared=render_key is not None)
            rows = since
            if lookback:
                late = [row for row in recent if row.id < last_id and row.id not in seen]
                rows = sorted(late + rows, key=lambda row: row.id)
            arrived = len(rows)
            rows = _ready(rows, datetime.now(UTC) - wait_for_analysis)
            messages = [
                sse_message(text, event=event, event_id=row.id)
                for row in rows
                if (text := feed.text(render_key, row, render)) is not None
            ]
            if render_update and unanalysed_sent:
                analysed = [row for row in store.captures_by_ids(bin_id, unanalysed_sent) if row.verdict is not None]
                update_key = None if render_key is None else (render_key, "update")
                messages += [
                    sse_message(text, event="update")
                    for row in analysed
                    if (text := feed.text(update_key, row, render_update)) is not None
                ]
                unanalysed_sent -= {row.id for row in analysed}
            if render_update:
                unanalysed_sent |= {row.id for row in rows if row.verdict is None}
                if len(unanalysed_sent) > MAX_AWAITED:
                    unanalysed_sent = set(sorted(unanalysed_sent)[-MAX_AWAITED:])
            waiting = len(rows) < arrived or bool(unanalysed_sent)
        for row in rows:
            seen.add(row.id)
            last_id = max(last_id, row.id)
        if messages:
            yield "".join(messages)
            last_beat = clock()
        elif clock() - last_beat >= heartbeat:
            yield ": keep-alive\n\n"
            last_beat = clock()


class StreamFeed:
    """What the event streams of one process share: each bin's rows read once per change of
    its mark (for every stream at or above the read's floor), each row's text rendered once
    per render key, and whether a bin still exists. Rows are shared detached from their
    session, so only their summary columns (loaded by the read) may be used."""

    MAX_TEXTS = 4000  # rendered rows kept, oldest dropped first
    MAX_BINS = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: dict[str, tuple[object, int, list[Capture], list[Capture]]] = {}
        self._texts: dict[tuple[Hashable, int, str | None], str | None] = {}
        self._exists: dict[str, tuple[float, bool]] = {}

    def rows(
        self, bin_id: str, mark: object, last_id: int, *, lookback: bool, shared: bool
    ) -> tuple[list[Capture], list[Capture]]:
        """(captures with id > last_id, captures of the late-commit window when `lookback`),
        from the read made at this `mark` when one covers `last_id`, else read now (and kept
        for the others when `shared`). Runs in an app context."""
        with self._lock:
            cached = self._reads.get(bin_id) if shared else None
        if cached is not None and cached[0] == mark and cached[1] <= last_id:
            return [row for row in cached[2] if row.id > last_id], cached[3]
        since = store.captures_since(bin_id, last_id)
        recent = _recent(bin_id) if lookback else []
        if shared:
            with self._lock:
                self._reads[bin_id] = (mark, last_id, since, recent)
                _trim(self._reads, self.MAX_BINS)
        return since, recent

    def text(self, key: Hashable | None, row: Capture, render: Callable[[Capture], str | None]) -> str | None:
        """`render(row)`, rendered once per (key, row, verdict) when a key is given."""
        if key is None:
            return render(row)
        slot = (key, row.id, row.verdict)
        with self._lock:
            if slot in self._texts:
                return self._texts[slot]
        text = render(row)
        with self._lock:
            self._texts[slot] = text
            _trim(self._texts, self.MAX_TEXTS)
        return text

    def bin_exists(self, bin_id: str, *, max_age: float) -> bool:
        """Whether the bin exists, asked of the database at most once per `max_age` seconds
        for all streams of the process (app context)."""
        now = time.monotonic()
        with self._lock:
            known = self._exists.get(bin_id)
        if known is not None and now - known[0] < max_age:
            return known[1]
        exists = store.get_bin(bin_id) is not None
        with self._lock:
            self._exists[bin_id] = (now, exists)
            _trim(self._exists, self.MAX_BINS)
        return exists


def _trim(entries: dict[Any, Any], size: int) -> None:
    """Drop the oldest entries (dicts keep insertion order) beyond `size`."""
    for key in list(itertools.islice(entries, max(0, len(entries) - size))):
        del entries[key]


def _ready(rows: list[Capture], waited_since: datetime) -> list[Capture]:
    """The leading rows (in id order) that are analysed or arrived before `waited_since`."""
    ready = []
    for row in rows:
        if row.verdict is None and row.received_at > waited_since:
            break
        ready.append(row)
    return ready


def _recent(bin_id: str) -> list[Capture]:
    return store.recent_captures(bin_id, datetime.now(UTC) - LATE_COMMIT_WINDOW)


def summary_data(summary: dict[str, Any]) -> str:
    return json.dumps(summary, separators=(",", ":"))


class StreamSlots:
    """Caps concurrent streams in one worker process so they never hold every thread."""

    def __init__(self, size: int):
        self._slots = threading.BoundedSemaphore(size)

    def try_take(self) -> bool:
        return self._slots.acquire(blocking=False)

    def give_back(self) -> None:
        self._slots.release()


def guarded(slots: StreamSlots, events: Iterator[str]) -> Iterator[str]:
    """Wrap a stream so its slot is given back however it ends (client gone, error, done)."""
    try:
        with metrics.stream_open():
            yield from events
    finally:
        slots.give_back()
