"""Group commit for SQLite: concurrent capture inserts share one transaction, and each
request still answers only after its own row is committed.

SQLite has one writer at a time. Committing each capture alone makes every request pay a
commit plus the hand-offs of a lock while the others queue. Here the first request to arrive
becomes the leader: it commits everything queued by then in one transaction, wakes the
requests it committed for, and hands the lead to the next waiting request, if any. Under load,
batches grow by themselves; alone, a request simply commits its own row. An flock beside the
database file orders leaders of different worker processes.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

# A batch holds at most this many captures, so one batch cannot hold many answers back.
MAX_BATCH = 128

Work = Callable[[Any], Any]  # runs with a DBAPI cursor, returns the caller's result


class _Job:
    __slots__ = ("done", "error", "lead", "result", "work")

    def __init__(self, work: Work):
        self.work = work
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.lead = False  # set when the lead is handed to this job's request

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupWriter:
    """Runs submitted work in shared transactions on one connection from `connect`, used by
    one leader at a time and kept between batches. After a failed batch the connection is
    thrown away with `discard(connection, error)` (by default closed) and the next batch
    connects again. `fails_batch(error)` tells an error of the database, which fails the whole
    batch at once, from an error of one job's work."""

    def __init__(
        self,
        connect: Callable[[], Any],
        lock_path: str,
        *,
        discard: Callable[[Any, BaseException | None], None] = lambda raw, _error: raw.close(),
        fails_batch: Callable[[BaseException], bool] = lambda _error: False,
    ):
        self._connect = connect
        self._discard = discard
        self._fails_batch = fails_batch
        self._raw: Any = None
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        weakref.finalize(self, os.close, self._lock_fd)
        self._mutex = threading.Lock()
        self._pending: list[_Job] = []
        self._leading = False

    def run(self, work: Work) -> Any:
        """Run `work(cursor)` in a committed transaction and return its result; raises what
        `work` raised (its own changes were rolled back, other requests' were committed), or,
        when the database failed the whole batch (`fails_batch`), that error."""
        job = _Job(work)
        with self._mutex:
            self._pending.append(job)
            lead = not self._leading
            self._leading = True
        if not lead:
            self._wait(job)
            if not job.lead:
                return job.outcome()
        batch: list[_Job] = []
        try:
            with self._mutex:  # leading: this job is first in line, so it is in this batch
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            self._commit(batch)
        finally:
            # Even when this leader is interrupted (a killed greenlet), nobody waits forever.
            for other in batch:
                if not other.done.is_set():
                    other.finish(error=RuntimeError("group commit interrupted; the request was not stored"))
            with self._mutex:
                self._hand_on()
        return job.outcome()

    def _wait(self, job: _Job) -> None:
        """Wait until `job` is committed or handed the lead. When the wait is interrupted (a
        killed greenlet, a signal), withdraw the job, or pass on the lead it was just given, so
        the requests queued behind it are not stranded."""
        try:
            job.done.wait()
        except BaseException:
            with self._mutex:
                if job in self._pending:  # not taken into a batch yet (or just handed the lead)
                    self._pending.remove(job)
                    if job.lead:
                        self._hand_on()
            raise

    def _hand_on(self) -> None:
        """With the mutex held, by the leader: hand the lead to the first waiting job, if any."""
        if self._pending:
            successor = self._pending[0]
            successor.lead = True
            successor.done.set()
        else:
            self._leading = False

    def _commit(self, batch: list[_Job]) -> None:
        """Commit the batch in one transaction. If it fails because of the database (read-only,
        full, unreachable), every job fails with that error; if some work failed, roll back
        and run each job alone, so only the failing one fails."""
        outcome = self._transaction(batch)
        if isinstance(outcome, list):
            for job, result in zip(batch, outcome, strict=False):
                job.finish(result)
        elif len(batch) == 1 or self._fails_batch(outcome):
            for job in batch:
                job.finish(error=outcome)
        else:
            for job in batch:
                self._commit([job])

    def _transaction(self, batch: list[_Job]) -> list[Any] | BaseException:
        """The batch's results after a commit, or the error after a rollback."""
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            if self._raw is None:
                self._raw = self._connect()
            cursor = self._raw.cursor()
            try:
                results = [job.work(cursor) for job in batch]
                self._raw.commit()
                return results
            finally:
                cursor.close()
        except BaseException as error:
            self._discard_connection(error)
            return error
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _discard_connection(self, error: BaseException | None = None) -> None:
        """Throw the connection away after a failure (rolled back as it closes), never back to
        a pool that would hand it out again; the next batch opens another."""
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                self._discard(raw, error)
            except Exception:  # a broken connection may fail even to close; it is gone either way
                pass
