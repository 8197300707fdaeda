"""One read per process tells every open event stream whether its bin changed.

A stream used to query its bin every STREAM_POLL_S even when nothing happened: 200 open pages
were 1,000+ queries a second, and they took the CPU that capture needs. Now a process reads
each bin's recent marks (row count, highest id, analysed count over the recent ids) at most
once per interval, for all its streams; a stream queries its own bin only when its mark
moved, while it waits for an analysis, or at its heartbeat. An idle page costs a dictionary
lookup.

Recent ids: those above the highest id seen LATE_COMMIT_WINDOW ago, so a PostgreSQL row that
commits late, below the highest id, still moves its bin's mark.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from inspector import store
from inspector.stream import LATE_COMMIT_WINDOW

# At start, how far below the highest id the window begins (rows that may still commit late).
_START_BELOW = 1000

Mark = tuple[int, int, int]  # (rows, highest id, analysed rows) among the bin's recent ids


class CaptureMarks:
    """The marks of every bin with recent captures, read at most once per `interval`.

    `mark(bin_id)` must run inside an app context; the caller whose read is due does it (no
    thread of its own: a process with no open stream never reads)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._marks: dict[str, Mark] = {}
        self._low: int | None = None
        self._highest: deque[tuple[float, int]] = deque()  # (when, highest id then)

    def mark(self, bin_id: str) -> Mark:
        now = self._clock()
        # One caller reads; the others meanwhile use the marks as they stand.
        if now - self._read_at >= self._interval and self._lock.acquire(blocking=False):
            try:
                self._read(now)
            finally:
                self._lock.release()
        return self._marks.get(bin_id, (0, 0, 0))

    def _read(self, now: float) -> None:
        if self._low is None:
            self._low = max(0, store.highest_capture_id() - _START_BELOW)
        marks = store.capture_marks(self._low)
        self._marks = {bin_id: (rows, highest, analysed) for bin_id, rows, highest, analysed in marks}
        highest = max((m[1] for m in self._marks.values()), default=self._low)
        self._highest.append((now, highest))
        window = LATE_COMMIT_WINDOW.total_seconds()
        while self._highest and self._highest[0][0] < now - window:
            self._low = max(self._low, self._highest.popleft()[1])
        self._read_at = now
