"""Server-sent event streams of new captures, read from the database (the only shared state).

A stream polls for rows with id > the last one sent, so any worker on any host sees every
capture. On PostgreSQL two captures can commit out of id order; a short look-back sends a
row that committed late below the cursor, once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
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
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Yield SSE text: every capture of `bin_id` with id > `last_id`, in id order, as
    `render(row)` (a row rendered as None is skipped); a comment as heartbeat; ends when the
    bin is deleted or after STREAM_MAX_S. Reads only.

    A capture is sent once it is analysed, or once it has waited ANALYSIS_WAIT_S for it (then
    as it stands); later captures wait behind it, so order holds. With `render_update`, a
    capture sent before its analysis is sent again, rendered by it as event `update` without
    an id, once analysed."""
    poll = float(app.config["STREAM_POLL_S"])
    heartbeat = float(app.config["STREAM_HEARTBEAT_S"])
    wait_for_analysis = timedelta(seconds=float(app.config["ANALYSIS_WAIT_S"]))
    started = last_beat = clock()
    yield "retry: 1000\n\n"
    lookback = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    with app.app_context():
        seen = set() if not lookback else {row.id for row in _recent(bin_id)}
    unanalysed_sent: set[int] = set()
    serving: Callable[[], bool] = app.extensions.get("hookloupe.serving", lambda: True)
    # Ends early when the worker stops, so a graceful stop does not wait for open pages (they
    # reconnect, with Last-Event-ID, to a worker that is still serving).
    marks: CaptureMarks | None = app.extensions.get("hookloupe.capture_marks")
    seen_mark: tuple[int, int, int] | None = None
    waiting = False  # rows held back for their analysis, or sent before it and awaited
    while clock() - started < float(app.config["STREAM_MAX_S"]) and serving():
        # Query the bin only when something may have changed: the stream sleeps until its
        # bin's mark moves (watch.py), its heartbeat is due or, while rows wait for their
        # analysis, the next poll; and wakes every SERVING_CHECK_S to notice a stopping worker.
        # An idle page costs no query and no wake-up but its heartbeat's.
        if marks is not None:
            if seen_mark is None:
                timeout = 0.0
            elif waiting:
                timeout = poll
            else:
                timeout = min(heartbeat - (clock() - last_beat), SERVING_CHECK_S)
            mark = marks.wait_change(bin_id, seen_mark, max(0.0, timeout))
            if mark == seen_mark and not waiting and clock() - last_beat < heartbeat:
                continue
            seen_mark = mark
        else:
            sleep(poll)
        with app.app_context():
            rows = store.captures_since(bin_id, last_id)
            if lookback:
                late = [row for row in _recent(bin_id) if row.id < last_id and row.id not in seen]
                rows = sorted(late + rows, key=lambda row: row.id)
            arrived = len(rows)
            rows = _ready(rows, datetime.now(UTC) - wait_for_analysis)
            messages = [
                sse_message(text, event=event, event_id=row.id) for row in rows if (text := render(row)) is not None
            ]
            if render_update and unanalysed_sent:
                analysed = [row for row in store.captures_by_ids(bin_id, unanalysed_sent) if row.verdict is not None]
                messages += [
                    sse_message(text, event="update") for row in analysed if (text := render_update(row)) is not None
                ]
                unanalysed_sent -= {row.id for row in analysed}
            if render_update:
                unanalysed_sent |= {row.id for row in rows if row.verdict is None}
                if len(unanalysed_sent) > MAX_AWAITED:
                    unanalysed_sent = set(sorted(unanalysed_sent)[-MAX_AWAITED:])
            waiting = len(rows) < arrived or bool(unanalysed_sent)
            if clock() - last_beat >= heartbeat and store.get_bin(bin_id) is None:
                yield sse_message("bin deleted", event="bin_deleted")
                return
        for row in rows:
            seen.add(row.id)
            last_id = max(last_id, row.id)
        if messages:
            yield "".join(messages)
            last_beat = clock()
        elif clock() - last_beat >= heartbeat:
            yield ": keep-alive\n\n"
            last_beat = clock()


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
