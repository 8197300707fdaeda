"""Helpers for the fault tests: a load of distinct captures from a few client threads, the
check that every acknowledged capture is stored exactly once, and the faults themselves
(gunicorn's processes, the local PostgreSQL cluster, a SQLite file's permissions, a small disk)."""

from __future__ import annotations

import errno
import glob
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# A capture is answered within this, or the client gives up (a connection error).
REQUEST_TIMEOUT_S = 10
# The server under fault: no janitor pruning rows away, room for every capture of a run.
FAULT_ENV = {"HOOKLOUPE_PRUNE_INTERVAL_S": "0", "HOOKLOUPE_MAX_REQUESTS_PER_BIN": "100000"}


@dataclass(frozen=True)
class Outcome:
    """One capture sent: when, to which distinct path, and what came back (status None: no
    answer — a refused or dropped connection, or a timeout)."""

    path: str
    started: float  # time.monotonic()
    ended: float
    status: int | None
    request_id: int | None
    retry_after: str | None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Load:
    """`clients` threads, each with its own httpx client, sending small distinct captures
    (path `/<name><client>-<n>`) to a bin, each `pause_s` after its previous answer, until
    `stop()`, or for `max_s` at most, so a failing test never leaves it running."""

    def __init__(
        self, url: str, bin_id: str, *, clients: int = 4, pause_s: float = 0.0, name: str = "c", max_s: float = 60.0
    ):
        self.capture_url = f"{url}/h/{bin_id}"
        self.pause_s = pause_s
        self.name = name
        self.deadline = time.monotonic() + max_s
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sending and wait for the answers in flight (bounded by the request timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)

    def _send(self, client_number: int) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
            n = 0
            while not self._stop.is_set() and time.monotonic() < self.deadline:
                path = f"/{self.name}{client_number}-{n}"
                outcome = self._post(client, path, f"capture {client_number}-{n}".encode())
                self.outcomes.append(outcome)  # list.append is atomic
                n += 1
                # After a refused connection (the server is down or restarting), do not spin.
                self._stop.wait(max(self.pause_s, 0.05 if outcome.status is None else 0.0))

    def _post(self, client: httpx.Client, path: str, body: bytes) -> Outcome:
        started = time.monotonic()
        try:
            response = client.post(self.capture_url + path, content=body)
        except httpx.HTTPError:
            return Outcome(path, started, time.monotonic(), None, None, None)
        request_id = None
        if 200 <= response.status_code < 300:
            request_id = response.json()["request_id"]
        return Outcome(
            path, started, time.monotonic(), response.status_code, request_id, response.headers.get("Retry-After")
        )

    @property
    def acknowledged(self) -> dict[str, int]:
        """Path -> request id of every capture answered 2xx so far."""
        return {o.path: o.request_id for o in list(self.outcomes) if o.acknowledged and o.request_id is not None}

    def wait_until(self, condition: Callable[[list[Outcome]], bool], *, timeout: float, what: str) -> None:
        """Wait until `condition(outcomes so far)` holds; fails the test after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not condition(list(self.outcomes)):
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout} s; statuses so far: {self.statuses()}")
            time.sleep(0.02)

    def wait_for_acknowledged(self, more: int, *, timeout: float = 15) -> None:
        """Wait until `more` captures beyond those acknowledged now are acknowledged."""
        target = len(self.acknowledged) + more
        self.wait_until(
            lambda outcomes: sum(o.acknowledged for o in outcomes) >= target,
            timeout=timeout,
            what=f"{more} more acknowledged captures",
        )

    def summary(self) -> str:
        """A line for the test's output: how many captures got which answer, over how long."""
        outcomes = list(self.outcomes)
        span = max(o.ended for o in outcomes) - min(o.started for o in outcomes) if outcomes else 0.0
        return f"{len(outcomes)} captures in {span:.1f} s: {dict(self.statuses())}"

    def statuses(self, since: float = 0.0) -> Counter[int | None]:
        """How many captures started at or after `since` got each status."""
        return Counter(o.status for o in list(self.outcomes) if o.started >= since)


def wait_for_refusals(load: Load, since: float, count: int, *, why: str, timeout: float = 20) -> None:
    """Wait until `count` captures started after `since` were refused with 503; fails at once
    when one gets another error status (a 500 leaves the sender guessing whether to retry)."""

    def refused_enough(outcomes: list[Outcome]) -> bool:
        after = [o for o in outcomes if o.started > since]
        unclear = Counter(o.status for o in after if o.status is not None and o.status >= 300 and o.status != 503)
        assert not unclear, f"{why}: captures answered {dict(unclear)}, not 503"
        return sum(o.status == 503 for o in after) >= count

    load.wait_until(refused_enough, timeout=timeout, what=f"{count} captures refused with 503 {why}")


def stored_paths(url: str, bin_id: str) -> list[tuple[int, str]]:
    """(id, path) of every capture stored in the bin, through the API, page by page."""
    rows: list[tuple[int, str]] = []
    params: dict[str, int] = {"limit": 500}
    while True:
        response = httpx.get(f"{url}/api/bins/{bin_id}/requests", params=params, timeout=30)
        response.raise_for_status()
        page = response.json()
        rows += [(summary["id"], summary["path"]) for summary in page["requests"]]
        if page["next_before"] is None:
            return rows
        params["before"] = page["next_before"]


def assert_every_acknowledged_capture_stored_once(loads: list[Load], url: str, bin_id: str) -> None:
    """Each capture answered 2xx is stored exactly once, under the id its answer gave; none
    is stored twice (captures without a 2xx may or may not be stored)."""
    rows = stored_paths(url, bin_id)
    twice = [path for path, count in Counter(path for _id, path in rows).items() if count > 1]
    assert twice == [], f"stored more than once: {twice[:10]}"
    stored = {path: capture_id for capture_id, path in rows}
    acknowledged = {path: capture_id for load in loads for path, capture_id in load.acknowledged.items()}
    lost = {path: capture_id for path, capture_id in acknowledged.items() if stored.get(path) != capture_id}
    assert lost == {}, f"{len(lost)} of {len(acknowledged)} acknowledged captures lost: {sorted(lost.items())[:10]}"
    assert acknowledged, "the load got no capture acknowledged"


def recovery_after(load: Load, moment: float, *, within: float) -> float:
    """Wait for the first capture started after `moment` to be acknowledged and return how
    long after `moment` its answer came; fails the test when that takes over `within` s."""
    load.wait_until(
        lambda outcomes: any(o.acknowledged and o.started >= moment for o in outcomes),
        timeout=within,
        what="acknowledged capture",
    )
    return min(o.ended for o in list(load.outcomes) if o.acknowledged and o.started >= moment) - moment


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's child processes (its workers), from /proc."""
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process just exited
            continue
        if int(fields[1]) == master_pid:
            children.append(int(stat.split("/")[2]))
    return children


def wait_for_workers(master_pid: int, count: int, *, excluding: set[int], timeout: float = 20) -> list[int]:
    """Wait until the master has `count` workers, none of them in `excluding` (killed ones)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(master_pid)
        if len(pids) == count and not set(pids) & excluding:
            return pids
        time.sleep(0.05)
    pytest.fail(f"gunicorn did not bring back {count} workers within {timeout} s")


# PostgreSQL ------------------------------------------------------------------------------


def postgres_cluster() -> tuple[str, str]:
    """(version, name) of the local PostgreSQL cluster the tests may restart; skips when the
    test cannot restart it (not root, no pg_ctlcluster, no single cluster)."""
    if os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None:
        pytest.skip("restarting PostgreSQL needs root and pg_ctlcluster (Debian's postgresql-common)")
    configured = os.environ.get("HOOKLOUPE_TEST_PG_CLUSTER")  # e.g. "15/main"
    clusters = [configured] if configured else [path.split("/", 3)[3] for path in glob.glob("/etc/postgresql/*/*")]
    if len(clusters) != 1:
        pytest.skip(f"set HOOKLOUPE_TEST_PG_CLUSTER to one of {clusters} (version/name)")
    version, name = clusters[0].split("/")
    return version, name


def postgres_is_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], timeout=10).returncode == 0


def restart_postgres(cluster: tuple[str, str]) -> None:
    """Restart the cluster (fast shutdown: open sessions are ended); returns once it accepts
    connections again."""
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True, timeout=60)


def ensure_postgres_up(cluster: tuple[str, str]) -> None:
    """Start the cluster again if a failed test left it down (other suites share it)."""
    if not postgres_is_ready():
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "start"], timeout=60)


# Read-only SQLite ---------------------------------------------------------------------------


def require_read_only_files(directory: Path) -> None:
    """Skip unless set_read_only can work in `directory`: as root it needs chattr and a file
    system with the immutable attribute (tmpfs and overlayfs have none)."""
    if os.geteuid() != 0:
        return
    probe = directory / "read-only-probe"
    probe.touch()
    try:
        for flag in ("+i", "-i"):
            done = subprocess.run(["chattr", flag, str(probe)], capture_output=True, timeout=10)
            if done.returncode != 0:
                pytest.skip(f"as root, read-only files need chattr: {done.stderr.decode(errors='replace').strip()}")
    except FileNotFoundError:
        pytest.skip("as root, read-only files need chattr (e2fsprogs)")
    probe.unlink()


def set_read_only(paths: list[Path], read_only: bool) -> None:
    """Make files read-only for the server, or writable again: chmod 0444/0644, or, when the
    tests run as root (whom file modes do not bind), the immutable attribute, which binds root
    too. Either way SQLite opens a file it cannot write read-only. Call
    require_read_only_files first."""
    for path in paths:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i" if read_only else "-i", str(path)], check=True, timeout=10)
        else:
            os.chmod(path, 0o444 if read_only else 0o644)


# A full disk ------------------------------------------------------------------------------------


@contextmanager
def small_disk(path: Path, size: str = "16m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (a new folder) for the block, unmounted after;
    skips when mounting is not permitted here."""
    path.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
            capture_output=True,
            timeout=10,
        )
    except FileNotFoundError:
        pytest.skip("no mount command")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], timeout=30)  # still busy: detach it now, free it later


def fill(directory: Path) -> Path:
    """Fill the file system holding `directory` to its last block with one new file; returns
    the file (deleting it frees the space again)."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0" * 512):
            try:
                while True:
                    handle.write(chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    return filler
