"""One read per process tells every open event stream and wait whether its bin changed.

A stream used to query its bin every STREAM_POLL_S even when nothing happened: 200 open pages
were 1,000+ queries a second, and they took the CPU that capture needs. Now a process reads
each bin's recent marks (row count, highest id, analysed count over the recent ids) at most
once per interval, for all its streams; a stream queries its own bin only when its mark
moved, while it waits for an analysis, or at its heartbeat. An idle page costs a dictionary
lookup.

A capture or an analysis committed in this process `poke`s the marks: the next `mark()` call
reads at once (at most every MIN_GAP_S), so a same-process change reaches streams and waits
without waiting out the interval.

Streams and waits block in `wait_change` (a condition per bin) while one reader thread of the
process — a greenlet under gunicorn's gevent worker — reads the marks and wakes only the
callers whose bin moved: an idle page costs no query and no wake-up but its heartbeat's. The
reader runs only while someone waits, and stops after IDLE_READER_S with nobody waiting.

Recent ids: those above the highest id seen LATE_COMMIT_WINDOW ago, so a PostgreSQL row that
commits late, below the highest id, still moves its bin's mark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from inspector import store
from inspector.store.marks import marks_of
from inspector.stream import LATE_COMMIT_WINDOW

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

# After a poke, the soonest the marks are read again (bounds the reads under a capture flood).
MIN_GAP_S = 0.025
# At start, how far below the highest id the window begins (rows that may still commit late).
_START_BELOW = 1000

# The reader thread ends after this long with nobody waiting (the next wait starts it again).
IDLE_READER_S = 2.0

Mark = tuple[int, int, int]  # (rows, highest id, analysed rows) among the bin's recent ids
NO_MARK: Mark = (0, 0, 0)


class CaptureMarks:
    """The marks of every bin with recent captures, read at most once per `interval`.

    `mark(bin_id)` must run inside an app context; the caller whose read is due does it.
    `wait_change(...)` blocks until the bin's mark moves; it needs the `app`, in whose context
    the reader thread reads. A process with nobody watching never reads."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic, app: Flask | None = None) -> None:
        self._interval = interval
        self._clock = clock
        self._app = app
        self._lock = threading.Lock()  # held by whoever reads
        self._waiting = threading.Lock()  # guards the conditions and the reader's state
        self._conditions: dict[str, tuple[threading.Condition, int]] = {}  # bin -> (condition, callers)
        self._wake_reader = threading.Event()
        self._reader: threading.Thread | None = None
        self._stopping = False
        self._read_at = float("-inf")
        self._poked = False
        self._marks: dict[str, Mark] = {}
        self._low: int | None = None
        self._highest: deque[tuple[float, int]] = deque()  # (when, highest id then)

    def poke(self, bin_ids: Collection[str] | None = None) -> None:
        """Something changed in this process (a capture or an analysis committed) in `bin_ids`
        (None: any bin): read soon — unless nobody here watches those bins."""
        if bin_ids is not None and self._reader is not None and not any(b in self._conditions for b in bin_ids):
            return
        self._poked = True
        if self._reader is not None:
            self._wake_reader.set()

    def wait_change(self, bin_id: str, seen: Mark | None, timeout: float) -> Mark:
        """The bin's mark as soon as it differs from `seen`, or as it stands after `timeout`
        seconds. Any thread; no app context needed."""
        deadline = time.monotonic() + timeout
        with self._waiting:
            condition, callers = self._conditions.get(bin_id) or (threading.Condition(self._waiting), 0)
            self._conditions[bin_id] = (condition, callers + 1)
            self._start_reader()
            try:
                while (mark := self._marks.get(bin_id, NO_MARK)) == seen:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    condition.wait(left)
                return mark
            finally:
                condition, callers = self._conditions[bin_id]
                if callers == 1:
                    del self._conditions[bin_id]
                else:
                    self._conditions[bin_id] = (condition, callers - 1)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reader thread now (before the app's engine is disposed; tests)."""
        with self._waiting:
            reader, self._stopping = self._reader, True
        self._wake_reader.set()
        if reader is not None:
            reader.join(timeout)

    def _start_reader(self) -> None:
        """Start the reader thread when it is not running (called holding `_waiting`)."""
        if self._reader is None and not self._stopping:
            if self._app is None:
                raise RuntimeError("CaptureMarks.wait_change needs the app (CaptureMarks(..., app=app))")
            self._reader = threading.Thread(target=self._run_reader, name="hookloupe-watch", daemon=True)
            self._reader.start()

    def _run_reader(self) -> None:
        """Read the marks every interval (sooner after a poke) while anyone waits; wake the
        callers whose bin moved."""
        assert self._app is not None
        idle_since: float | None = None
        while True:
            with self._waiting:
                if self._stopping:
                    self._reader = None
                    return
                if not self._conditions:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= IDLE_READER_S:
                        self._reader = None
                        return
                else:
                    idle_since = None
            with self._waiting:
                watched = set(self._conditions)
            before = self._marks
            try:
                with self._app.app_context(), self._lock:
                    self._read(self._clock(), watched)
            except Exception:  # the database is away: the callers time out, the next read retries
                log.warning("reading the capture marks failed", exc_info=True)
            with self._waiting:
                for bin_id, (condition, _callers) in self._conditions.items():
                    if self._marks.get(bin_id, NO_MARK) != before.get(bin_id, NO_MARK):
                        condition.notify_all()
            self._wake_reader.wait(self._interval)
            if self._wake_reader.is_set():
                self._wake_reader.clear()
                time.sleep(MIN_GAP_S)  # a flood of captures: at most one read per gap

    def mark(self, bin_id: str) -> Mark:
        now = self._clock()
        since = now - self._read_at
        due = since >= self._interval or (self._poked and since >= MIN_GAP_S)
        # One caller reads; the others meanwhile use the marks as they stand.
        if due and self._lock.acquire(blocking=False):
            try:
                self._read(now)
            finally:
                self._lock.release()
        return self._marks.get(bin_id, (0, 0, 0))

    def _read(self, now: float, watched: set[str] | None = None) -> None:
        """Read the marks: of every bin with recent captures, or only of the `watched` ones."""
        self._poked = False  # before the read: a poke during it makes the next one due
        if self._low is None:
            self._low = max(0, store.highest_capture_id() - _START_BELOW)
        marks = store.capture_marks(self._low) if watched is None else marks_of(watched, self._low)
        self._marks = {bin_id: (rows, highest, analysed) for bin_id, rows, highest, analysed in marks}
        if watched is None:
            highest = max((m[1] for m in self._marks.values()), default=self._low)
        else:  # the window follows the highest id there is, not only the watched bins'
            highest = max(store.highest_capture_id(), self._low)
        self._highest.append((now, highest))
        window = LATE_COMMIT_WINDOW.total_seconds()
        while self._highest and self._highest[0][0] < now - window:
            self._low = max(self._low, self._highest.popleft()[1])
        self._read_at = now
