"""A daemon thread per worker that prunes old captures and idle bins off the capture path."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask

from inspector.store import cleanup

log = logging.getLogger(__name__)

# Every this many seconds a pass checks every bin against its cap (a safety net: in between,
# only bins that can have gone over it are checked, see `Pruner`).
FULL_PASS_S = 3600
# Captures younger than this are looked at again by the next pass: on PostgreSQL a capture
# may commit after one with a higher id, and must not be skipped.
SETTLE_S = 5


class Pruner:
    """What a worker's janitor remembers between passes, so that a pass checks only the bins
    that can be over their cap: those with captures newer than the last pass, and those whose
    max_requests was lowered (or that are new) since. Every FULL_PASS_S, and on the first
    pass, it checks every bin. Checking a bin reads at most its cap's worth of index entries;
    nothing counts the whole table."""

    def __init__(
        self,
        *,
        full_pass_s: float = FULL_PASS_S,
        settle_s: float = SETTLE_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.full_pass_s = full_pass_s
        self.settle_s = settle_s
        self.clock = clock
        self.seen_id: int | None = None  # captures up to this id were seen by a pass
        self.caps: dict[str, int | None] = {}  # each bin's max_requests at the last pass
        self.next_full = 0.0
        self.checked: list[str] | None = None  # the bins the last pass checked (None: all)

    def run(self, app: Flask, now: datetime) -> dict[str, int]:
        """One pass in an app context of its own; the counts deleted."""
        default_max = int(app.config["MAX_REQUESTS_PER_BIN"])
        with app.app_context():
            caps = cleanup.bin_caps()
            candidates: set[str] | None = None
            seen = self.seen_id or 0
            settled = cleanup.newest_settled_id(seen, now - timedelta(seconds=self.settle_s))
            if self.seen_id is None or self.clock() >= self.next_full:
                self.next_full = self.clock() + self.full_pass_s
            else:
                candidates = cleanup.bins_captured_above(seen)
                candidates |= {
                    bin_id
                    for bin_id, cap in caps.items()
                    if bin_id not in self.caps or (cap or default_max) < (self.caps[bin_id] or default_max)
                }
            counts = cleanup.prune(
                now, default_max=default_max, ttl_days=int(app.config["BIN_TTL_DAYS"]), candidates=candidates
            )
        self.seen_id, self.caps = settled, caps
        self.checked = None if candidates is None else sorted(candidates)
        return counts


def prune_once(app: Flask) -> dict[str, int]:
    """One pruning pass with the app's limits, remembering what it saw for the next pass (see
    `Pruner`); returns the counts deleted."""
    pruner: Pruner = app.extensions.setdefault("hookloupe.pruner", Pruner())
    return pruner.run(app, datetime.now(UTC))


def start_janitor(app: Flask) -> threading.Thread:
    """Run `prune_once` every PRUNE_INTERVAL_S seconds until the process exits. A failed pass
    is logged and retried next time; it never reaches capture."""
    interval = float(app.config["PRUNE_INTERVAL_S"])
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                prune_once(app)
            except Exception:
                log.exception("pruning pass failed")

    thread = threading.Thread(target=loop, name="hookloupe-janitor", daemon=True)
    thread.start()
    app.extensions["hookloupe.janitor_stop"] = stop
    return thread
