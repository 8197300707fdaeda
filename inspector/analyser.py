"""Run the analysis of every capture once, right after its row is committed, off the response path.

Each process has one `Analyser`. The capture path hands it every capture it commits, as it is
in memory (`notify`); a thread analyses them in batches and writes provider, event, delivery
id and verdict to the rows in one transaction (store/analysis.py). The thread yields to
capture: while the process is saturated with captures it waits, up to `max_defer_s` (see
`_yield_to_capture`), and then catches up in large batches. A periodic sweep picks up rows
that no process analysed (stored before a restart or a crash, by another host, or left by an
upgrade); see `Analyser.sweep` for how processes avoid doing the same work. Changing a bin's
secrets clears that bin's verdicts and bumps its `analysis_generation` (store/secrets.py);
`wake(bin_id)` re-analyses them now.

The same thread keeps the text search index (store/indexing.py) after the analysis, and
separately from it: a trigram index row costs about as much CPU as the capture itself, so
while captures arrive it indexes for at most INDEX_SHARE of the time (IndexBudget), and
without limit once none arrive. A search checks not-yet-indexed captures row by row, so it
never misses one meanwhile (store/fts.py).

A write is guarded: it only lands while the row is still unanalysed and the bin's generation is
still the one whose secrets were used, so an analysis made with secrets that changed meanwhile
is dropped and redone, never stored.

Modes (config ANALYSER): `background` (the thread; the default), `inline` (analyse in the
calling thread before it returns: deterministic, for tests), `off` (nothing; rows stay
unanalysed until a process with an analyser runs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from flask import Flask

from inspector import metrics, store
from inspector.capture.insert import Committed
from inspector.capture.request import CapturedRequest
from inspector.models import Bin, Capture
from inspector.signing.analysis import (
    analyse,
    captured_from_row,
    public_url,
    secret_values,
    sender_base,
    verify_as_of,
)
from inspector.signing.verify import SecretValue, Verification
from inspector.store import analysis as analysis_store
from inspector.store import indexing

log = logging.getLogger(__name__)

# Rows analysed per read and per write transaction.
BATCH = 256
# Captures handed over but not analysed yet are held in memory up to this many bytes (as
# `held_bytes` reckons them); beyond it a capture is left to the sweep, which reads it back
# from the database. Memory a queue once held stays with the process (the allocator keeps it).
QUEUE_BYTES = 8 * 1024 * 1024
# What a queued capture costs beyond its body and header text: the Python objects around them.
ITEM_OVERHEAD = 1024
# Before each pass the analyser watches the process for this long (new captures gather into
# the batch meanwhile, so one pass — one bins read, one write — serves many), and runs only
# if captures were in flight for less than SATURATED of that time (see `_yield_to_capture`).
WINDOW_S = 0.05
SATURATED = 0.75
# A sweep takes at most this many rows; rows younger than RECENT_S may still be in another
# process's queue (see `Analyser.sweep`).
SWEEP_PAGE = 4 * BATCH
RECENT_S = 30
# The text search index is written INDEX_BATCH captures per transaction (a short hold of
# SQLite's write lock), for at most INDEX_SHARE of the time while captures arrive; with work
# left the thread comes back after INDEX_PAUSE_S.
INDEX_BATCH = 16
INDEX_SHARE = 0.05
INDEX_PAUSE_S = 0.1
# A process that took no capture for this long is idle: it indexes without limit.
INDEX_IDLE_S = 0.5
# Decrypted secrets are kept for this many bins per process (least recently used go first).
SECRET_CACHE_BINS = 512


_Item = TypeVar("_Item")


class IndexBudget:
    """Seconds of indexing this process may spend now: INDEX_SHARE of the time that passes,
    saved up to `most` seconds; an idle process (no capture for INDEX_IDLE_S) may always."""

    def __init__(self, share: float = INDEX_SHARE, most: float = 0.5, now: float | None = None):
        self.share, self.most = share, most
        self.credit, self.last = 0.0, time.monotonic() if now is None else now

    def may_run(self, now: float, *, idle: bool) -> bool:
        self.credit = min(self.most, self.credit + self.share * (now - self.last))
        self.last = now
        return idle or self.credit > 0

    def spend(self, seconds: float) -> None:
        self.credit = max(-self.most, self.credit - seconds)


class Analyser:
    """The per-process analyser of `app` (see the module docstring)."""

    def __init__(
        self, app: Flask, mode: str, *, sweep_s: float, max_defer_s: float = 30.0, index_share: float = INDEX_SHARE
    ):
        if mode not in ("background", "inline", "off"):
            raise ValueError(f"ANALYSER must be background, inline or off, not {mode!r}")
        self.app = app
        self.mode = mode
        self.sweep_s = sweep_s
        self.max_defer_s = max_defer_s
        self._inflight = 0  # captures this process is handling right now
        self._busy_since = 0.0  # when the current stretch with captures in flight began
        self._busy_total = 0.0  # seconds with captures in flight, before the current stretch
        self._last_arrival = 0.0  # when this process last took a capture (monotonic)
        self._index_budget = IndexBudget(index_share)
        self.index_left = False  # whether captures still wait for the search index
        self._queued_bytes = 0
        self._oldest = 0.0  # when the oldest queued capture was handed over (monotonic)
        self._lock = threading.Lock()
        self._queued: list[Committed] = []
        self._bins: set[str] = set()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._secrets: OrderedDict[str, tuple[int, list[SecretValue]]] = OrderedDict()
        self._sighted: set[int] = set()
        self.backlog_left = False
        self.decryptions = 0  # how many times a bin's secrets were decrypted (tests and bench read it)

    # --- what the rest of the app calls -----------------------------------------------------

    def notify(self, committed: Committed) -> None:
        """A capture was committed: analyse it soon (now, in inline mode). It is handed over
        as it is in memory, so the analyser need not read it back."""
        if self.mode == "inline":
            self.analyse_committed([committed])
            try:
                self.index_pending()
            except Exception:  # the capture is stored; a search checks it row by row meanwhile
                log.exception("indexing for text search failed")
        elif self.mode == "background":
            size = held_bytes(committed)
            with self._lock:
                if self._queued_bytes + size > QUEUE_BYTES:
                    return  # memory is bounded: the sweep finds this row in the database later
                if not self._queued:
                    self._oldest = time.monotonic()
                self._queued.append(committed)
                self._queued_bytes += size
            self._wakeup.set()

    @contextmanager
    def capturing(self) -> Iterator[None]:
        """Around the capture path's handling of one request: the time with captures in
        flight is what `_yield_to_capture` measures."""
        with self._lock:
            if self._inflight == 0:
                self._busy_since = time.monotonic()
            self._inflight += 1
            self._last_arrival = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._inflight -= 1
                if self._inflight == 0:
                    self._busy_total += time.monotonic() - self._busy_since

    def _busy_time(self) -> float:
        """Seconds this process has spent with captures in flight, so far."""
        with self._lock:
            ongoing = time.monotonic() - self._busy_since if self._inflight else 0.0
            return self._busy_total + ongoing

    def _is_saturated(self) -> bool:
        """Watch the process for WINDOW_S: were captures in flight for SATURATED of it?"""
        start, busy = time.monotonic(), self._busy_time()
        self._stop.wait(WINDOW_S)
        return self._busy_time() - busy >= SATURATED * (time.monotonic() - start)

    def wake(self, bin_id: str) -> None:
        """The bin's verdicts were cleared (its secrets changed): re-analyse them soon."""
        if self.mode == "inline":
            self.analyse_bin(bin_id)
        elif self.mode == "background":
            with self._lock:
                self._bins.add(bin_id)
            self._wakeup.set()

    def start(self) -> None:
        """Start the background thread (background mode only; idempotent)."""
        if self.mode != "background" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="hookloupe-analyser", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after the batch in hand."""
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the work ----------------------------------------------------------------------------

    def analyse_ids(self, ids: Sequence[int]) -> int:
        """Analyse those of `ids` still unanalysed (read back from the database); returns how
        many analyses were written."""
        return self._in_batches(ids, lambda chunk: self._analyse(analysis_store.unanalysed(chunk)))

    def analyse_committed(self, batch: Sequence[Committed]) -> int:
        """Analyse captures handed over by the capture path; returns how many were written."""
        return self._in_batches(batch, self._analyse)

    def _in_batches(self, items: Sequence[_Item], work: Callable[[Sequence[_Item]], int]) -> int:
        """`work` on BATCH items at a time, each in an app context of its own (its database
        session ends with it); the sum of what `work` returned."""
        written = 0
        for start in range(0, len(items), BATCH):
            with self.app.app_context():
                written += work(items[start : start + BATCH])
        return written

    def analyse_bin(self, bin_id: str) -> int:
        """Analyse every unanalysed row of the bin, batch after batch, until none is left."""
        written = 0
        seen_max = 0
        while True:
            with self.app.app_context():
                ids = analysis_store.unanalysed_ids_of_bin(bin_id, after=seen_max, limit=BATCH)
            if not ids:
                return written
            seen_max = ids[-1]  # rows whose write was refused (secrets changed again) wait for the next wake
            written += self.analyse_ids(ids)

    def index_pending(self, *, budgeted: bool = False) -> int:
        """Index the captures waiting for the search index, INDEX_BATCH per transaction, until
        none wait; `budgeted` (the thread): only as IndexBudget allows. How many were indexed."""
        done = 0
        while not self._stop.is_set():
            now = time.monotonic()
            idle = self._inflight == 0 and now - self._last_arrival >= INDEX_IDLE_S
            if budgeted and not self._index_budget.may_run(now, idle=idle):
                self.index_left = True
                return done
            started = time.monotonic()
            with self.app.app_context():
                indexed = indexing.index_pending(INDEX_BATCH)
            self._index_budget.spend(time.monotonic() - started)
            done += indexed
            if indexed < INDEX_BATCH:
                self.index_left = False
                return done
        return done

    def sweep(self, *, index: bool = True) -> int:
        """Analyse the rows no process is about to analyse, and with `index` index every
        capture waiting for the search index; returns how many analyses were written.

        A recent row may sit in another process's queue, so it is taken only when two sweeps
        in a row saw it unanalysed. An older one is a backlog (stored before a restart or a
        crash, by a host without an analyser, after an upgrade, or a bin being re-checked):
        it is taken at once, a page at a time from a random point, so that several processes
        share a backlog instead of repeating each other's work. `backlog_left` says whether a
        full page was taken (the thread then sweeps again without waiting)."""
        # Well beyond the longest a row waits in a deferring process's queue: rows of that
        # age are taken at once, and a process still holding one would write it too.
        recent_since = datetime.now(UTC) - timedelta(seconds=max(RECENT_S, 2 * self.max_defer_s))
        with self.app.app_context():
            recent = analysis_store.unanalysed_ids_since(recent_since, limit=SWEEP_PAGE)
            backlog = analysis_store.backlog_page(recent_since, limit=SWEEP_PAGE)
        stale = sorted(recent & self._sighted)
        self._sighted = recent - set(stale)
        self.backlog_left = len(backlog) == SWEEP_PAGE
        written = self.analyse_ids(stale + backlog)
        if index:
            self.index_pending()
        return written

    def _analyse(self, batch: Sequence[Committed]) -> int:
        """Analyse `batch` with its bins' current secrets and write the results (app context)."""
        if not batch:
            return 0
        bins = self._bin_settings({item.bin_id for item in batch})
        results = []
        for item in batch:
            if item.bin_id not in bins:
                continue  # the bin was deleted meanwhile
            generation, public_base, secrets = bins[item.bin_id]
            url = sender_url(self.app, public_base, item.bin_id, item.captured)
            analysis = analyse(item.captured, secrets, public_url=url, redacted=item.redacted)
            results.append(analysis_store.Result(item.capture_id, item.bin_id, generation, analysis))
        written = analysis_store.write(results) if results else 0
        if written:
            # Streams and waits on these bins see it now.
            self.app.extensions["hookloupe.capture_marks"].poke({item.bin_id for item in batch})
        metrics.record_analysed(item.captured.received_at for item in batch if item.bin_id in bins)
        return written

    def _bin_settings(self, bin_ids: Iterable[str]) -> dict[str, tuple[int, str | None, list[SecretValue]]]:
        """(generation, public base URL or None, decrypted secrets) by bin id. Secrets are
        decrypted once per generation of a bin's secrets, not per row."""
        settings = {}
        for bin_id, generation, public_base in analysis_store.bin_generations(bin_ids):
            cached = self._secrets.get(bin_id)
            if cached is None or cached[0] != generation:
                rows = store.list_secrets(bin_id)
                cached = (generation, secret_values(rows, self.app.config["SECRET_KEY"]))
                self.decryptions += 1
                self._secrets[bin_id] = cached
                if len(self._secrets) > SECRET_CACHE_BINS:
                    self._secrets.popitem(last=False)
            self._secrets.move_to_end(bin_id)
            settings[bin_id] = (generation, public_base, cached[1])
        return settings

    def _yield_to_capture(self, since: float) -> None:
        """Wait while this process is saturated with captures, unless the work waiting since
        `since` (monotonic) has waited `max_defer_s`. Capture is what must not slow down: at
        saturation the analysis falls behind, then catches up in large batches (cheap per
        capture) once the load drops, or every `max_defer_s` at the latest. At ordinary load
        captures are in flight a small part of the time and the analysis runs after one
        WINDOW_S."""
        while not self._stop.is_set() and self._is_saturated() and time.monotonic() - since < self.max_defer_s:
            pass

    def _run(self) -> None:
        next_sweep = time.monotonic() + self.sweep_s
        while not self._stop.is_set():
            wait = next_sweep - time.monotonic()
            self._wakeup.wait(max(0.0, min(wait, INDEX_PAUSE_S) if self.index_left else wait))
            self._wakeup.clear()
            self._yield_to_capture(self._oldest if self._queued else time.monotonic())
            with self._lock:
                queued, self._queued, self._queued_bytes = self._queued, [], 0
                bins, self._bins = self._bins, set()
            try:
                if queued:
                    self.analyse_committed(queued)
                for bin_id in bins:
                    self.analyse_bin(bin_id)
                if time.monotonic() >= next_sweep:
                    self._yield_to_capture(next_sweep)
                    self.sweep(index=False)
                    next_sweep = time.monotonic() + (0 if self.backlog_left else self.sweep_s)
                self.index_pending(budgeted=True)
            except Exception:
                log.exception("analysis pass failed")
                self._stop.wait(1.0)


def held_bytes(committed: Committed) -> int:
    """What holding the capture in the queue costs, roughly: body, header and URL text, and
    ITEM_OVERHEAD for the objects around them (a 1 KiB JSON capture is ~3 KiB of Python)."""
    captured = committed.captured
    text = sum(len(name) + len(value) for name, value in captured.headers) + len(captured.path)
    return len(captured.body) + text + len(captured.query_string) + ITEM_OVERHEAD


def sender_url(app: Flask, public_base: str | None, bin_id: str, captured: CapturedRequest) -> str:
    """The full URL the sender called: the bin's public base URL, else BASE_URL, else the
    scheme and host the capture itself was sent to."""
    base = public_base or app.config.get("BASE_URL") or None
    if base is None:
        base = sender_base(captured, trusted_proxies=int(app.config["TRUSTED_PROXIES"]))
    return public_url(base, bin_id, captured.path, captured.query_string)


def verify_now(app: Flask, bin_: Bin, row: Capture, *, at: datetime) -> Verification:
    """The verdict on a stored capture as if it had arrived at `at` ("check now"): decrypts
    the bin's secrets and stores nothing."""
    secrets = secret_values(store.list_secrets(bin_.id), app.config["SECRET_KEY"])
    captured = captured_from_row(row)
    url = sender_url(app, bin_.public_base_url, bin_.id, captured)
    return verify_as_of(captured, secrets, public_url=url, at=at, redacted=row.redacted or ())


def analyser_of(app: Flask) -> Analyser:
    """The app's analyser."""
    analyser: Analyser = app.extensions["hookloupe.analyser"]
    return analyser
