"""Run the analysis of every capture once, right after its row is committed, off the response path.

Each process has one `Analyser`. The capture path hands it the id of every row it commits
(`notify`); a thread analyses them in batches (many captures, one read and one write) and
writes provider, event, delivery id and verdict to the rows. A periodic sweep picks up rows
that no process analysed (stored before a restart or a crash, or by another host): a row seen
unanalysed by two consecutive sweeps is analysed here, so the process that stored it normally
gets there first and work is rarely done twice. Changing a bin's secrets clears that bin's
verdicts and bumps its `analysis_generation` (store.py); `wake(bin_id)` re-analyses them now.

A write is guarded: it only lands while the row is still unanalysed and the bin's generation is
still the one whose secrets were used, so an analysis made with secrets that changed meanwhile
is dropped and redone, never stored.

Modes (config ANALYSER): `background` (the thread; the default), `inline` (analyse in the
calling thread before it returns: deterministic, for tests), `off` (nothing; rows stay
unanalysed until a process with an analyser runs).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from inspector import store
from inspector.capture import insert
from inspector.capture.request import CapturedRequest
from inspector.db import db
from inspector.models import Bin, Capture, Secret
from inspector.signing.analysis import (
    Analysis,
    analyse,
    captured_from_row,
    public_url,
    secret_values,
    sender_base,
    signature_json,
    verify_as_of,
)
from inspector.signing.verify import SecretValue, Verification

log = logging.getLogger(__name__)

# Rows analysed per read and per write transaction.
BATCH = 256
# Decrypted secrets are kept for this many bins per process (least recently used go first).
SECRET_CACHE_BINS = 512

_CAPTURE_COLUMNS = (
    Capture.id,
    Capture.bin_id,
    Capture.received_at,
    Capture.method,
    Capture.path,
    Capture.query_string,
    Capture.headers,
    Capture.remote_addr,
    Capture.content_type,
    Capture.body,
    Capture.body_size,
    Capture.body_truncated,
)
_UPDATE = (
    "UPDATE captures SET provider_id = {p}, event = {p}, delivery_id = {p}, verdict = {p}, signature = {p} "
    "WHERE id = {p} AND verdict IS NULL "
    "AND (SELECT analysis_generation FROM bins WHERE bins.id = captures.bin_id) = {p}"
)
_SQL = {
    "sqlite": {"update": _UPDATE.format(p="?")},
    "postgresql": {
        "update": _UPDATE.format(p="%s"),
        # Holds the bins' generations still until the writes commit (a secret change waits).
        "lock_bins": "SELECT id FROM bins WHERE id = ANY(%s) ORDER BY id FOR SHARE",
    },
}


class Analyser:
    """The per-process analyser of `app` (see the module docstring)."""

    def __init__(self, app: Flask, mode: str, *, sweep_s: float):
        if mode not in ("background", "inline", "off"):
            raise ValueError(f"ANALYSER must be background, inline or off, not {mode!r}")
        self.app = app
        self.mode = mode
        self.sweep_s = sweep_s
        self._lock = threading.Lock()
        self._queued: list[int] = []
        self._bins: set[str] = set()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._secrets: OrderedDict[str, tuple[int, list[SecretValue]]] = OrderedDict()
        self._sighted: set[int] = set()
        self.decryptions = 0  # how many times a bin's secrets were decrypted (tests and bench read it)

    # --- what the rest of the app calls -----------------------------------------------------

    def notify(self, capture_id: int) -> None:
        """A capture was committed: analyse it soon (now, in inline mode)."""
        if self.mode == "inline":
            self.analyse_ids([capture_id])
        elif self.mode == "background":
            with self._lock:
                self._queued.append(capture_id)
            self._wakeup.set()

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
        """Analyse those of `ids` still unanalysed; returns how many rows were written."""
        written = 0
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            written += self._analyse_where(Capture.id.in_(chunk))
        return written

    def analyse_bin(self, bin_id: str) -> int:
        """Analyse every unanalysed row of the bin, batch after batch, until none is left."""
        written = 0
        seen_max = 0
        while True:
            with self.app.app_context():
                ids = list(
                    db.session.scalars(
                        select(Capture.id)
                        .where(Capture.bin_id == bin_id, Capture.verdict.is_(None), Capture.id > seen_max)
                        .order_by(Capture.id)
                        .limit(BATCH)
                    )
                )
                db.session.remove()
            if not ids:
                return written
            seen_max = ids[-1]  # rows whose write was refused (secrets changed again) wait for the next wake
            written += self.analyse_ids(ids)

    def sweep(self) -> int:
        """Analyse rows that were unanalysed at the previous sweep too (left by a restart, a
        crash or another process); returns how many rows were written."""
        with self.app.app_context():
            ids = set(
                db.session.scalars(
                    select(Capture.id).where(Capture.verdict.is_(None)).order_by(Capture.id).limit(4 * BATCH)
                )
            )
            db.session.remove()
        stale = sorted(ids & self._sighted)
        self._sighted = ids - set(stale)
        return self.analyse_ids(stale) if stale else 0

    def _analyse_where(self, condition: Any) -> int:
        with self.app.app_context():
            try:
                rows = db.session.execute(
                    select(*_CAPTURE_COLUMNS).where(condition, Capture.verdict.is_(None)).order_by(Capture.id)
                ).all()
                if not rows:
                    return 0
                bins = self._bin_settings({row.bin_id for row in rows})
                results = []
                for row in rows:
                    if row.bin_id not in bins:
                        continue  # the bin was deleted meanwhile
                    generation, public_base, secrets = bins[row.bin_id]
                    captured = captured_from_row(row)
                    url = sender_url(self.app, public_base, row.bin_id, captured)
                    results.append((row.id, row.bin_id, generation, analyse(captured, secrets, public_url=url)))
                return _write(results) if results else 0
            finally:
                db.session.remove()

    def _bin_settings(self, bin_ids: Iterable[str]) -> dict[str, tuple[int, str | None, list[SecretValue]]]:
        """(generation, public base URL or None, decrypted secrets) by bin id. Secrets are
        decrypted once per generation of a bin's secrets, not per row."""
        found = db.session.execute(
            select(Bin.id, Bin.analysis_generation, Bin.public_base_url).where(Bin.id.in_(list(bin_ids)))
        ).all()
        settings = {}
        for bin_id, generation, public_base in found:
            cached = self._secrets.get(bin_id)
            if cached is None or cached[0] != generation:
                rows = list(db.session.scalars(select(Secret).where(Secret.bin_id == bin_id).order_by(Secret.id)))
                cached = (generation, secret_values(rows, self.app.config["SECRET_KEY"]))
                self.decryptions += 1
                self._secrets[bin_id] = cached
                if len(self._secrets) > SECRET_CACHE_BINS:
                    self._secrets.popitem(last=False)
            self._secrets.move_to_end(bin_id)
            settings[bin_id] = (generation, public_base, cached[1])
        return settings

    def _run(self) -> None:
        next_sweep = time.monotonic() + self.sweep_s
        while not self._stop.is_set():
            self._wakeup.wait(max(0.0, next_sweep - time.monotonic()))
            self._wakeup.clear()
            with self._lock:
                ids, self._queued = self._queued, []
                bins, self._bins = self._bins, set()
            try:
                if ids:
                    self.analyse_ids(ids)
                for bin_id in bins:
                    self.analyse_bin(bin_id)
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + self.sweep_s
            except Exception:
                log.exception("analysis pass failed")
                self._stop.wait(1.0)


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
    return verify_as_of(captured, secrets, public_url=sender_url(app, bin_.public_base_url, bin_.id, captured), at=at)


def _write(results: list[tuple[int, str, int, Analysis]]) -> int:
    """Store the analyses in one write transaction (the capture path's group commit on
    SQLite); a row whose bin changed generation meanwhile is left for another pass."""
    dialect = db.engine.dialect.name
    sql = _SQL[dialect]
    params = [
        (
            analysis.provider_id,
            analysis.event,
            analysis.delivery_id,
            analysis.verification.status,
            json.dumps(signature_json(analysis), default=str),
            capture_id,
            generation,
        )
        for capture_id, _bin_id, generation, analysis in results
    ]
    bin_ids = sorted({bin_id for _, bin_id, _, _ in results})

    def work(cursor: Any) -> int:
        if "lock_bins" in sql:
            cursor.execute(sql["lock_bins"], (bin_ids,))
        cursor.executemany(sql["update"], params)
        return len(params)

    return int(insert.run_write(work))


def analyser_of(app: Flask) -> Analyser:
    """The app's analyser."""
    analyser: Analyser = app.extensions["hookloupe.analyser"]
    return analyser
