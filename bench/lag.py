"""Analysis lag: how long after its 2xx answer a capture reads as analysed, and how long a bin's backlog takes to clear.

`LagSampler` runs beside a capture load: every `interval_s` it POSTs one capture to the bin
on its own keep-alive connection, then polls `GET /api/bins/<bin>/requests/<id>` every
`poll_s` until `analysed` is true. `wait_analysed` polls `GET /api/bins/<bin>/stats` until
`unanalysed` is 0. Neither raises for a refused or failed request: those are counted.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

from bench.load import LoadRequest
from bench.servers import HOST, ServerError, get


@dataclass
class LagResult:
    lags_ms: list[float] = field(default_factory=list)  # 2xx answer -> first read showing analysed
    ids: list[int] = field(default_factory=list)  # request_ids of the sampler's own 2xx captures
    missed: int = 0  # acknowledged captures not seen analysed within the poll bound
    failed: int = 0  # POSTs that failed or answered non-2xx, and polls that failed
    verdicts: dict[str, int] = field(default_factory=dict)  # signature.status of the analysed samples


class LagSampler:
    """A thread timing the analysis lag of one capture every `interval_s` while a load runs.
    A sample is polled to its end before the next is sent, so while the lag exceeds
    `interval_s` fewer samples are taken. Stops at `stop()`, or after `max_s` at the latest."""

    def __init__(
        self,
        port: int,
        bin_id: str,
        request: LoadRequest,
        *,
        interval_s: float = 0.1,
        poll_s: float = 0.005,
        bound_s: float = 10.0,
        max_s: float = 600.0,
    ):
        self.port = port
        self.bin_id = bin_id
        self.request = request
        self.interval_s = interval_s
        self.poll_s = poll_s
        self.bound_s = bound_s
        self.max_s = max_s
        self.result = LagResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lag-sampler", daemon=True)

    def start(self) -> LagSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Send no further sample (the one being polled is finished)."""
        self._stop.set()

    def join(self) -> LagResult:
        self._stop.set()
        self._thread.join(timeout=self.bound_s + 15)
        return self.result

    def _run(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        began = time.monotonic()
        next_send = began
        try:
            while not self._stop.is_set() and time.monotonic() - began < self.max_s:
                if self._stop.wait(max(0.0, next_send - time.monotonic())):
                    break
                next_send = max(next_send + self.interval_s, time.monotonic())
                conn = self._sample_one(conn)
        finally:
            conn.close()

    def _exchange(self, conn: http.client.HTTPConnection, method: str, path: str, **kwargs) -> tuple[int, bytes]:
        conn.request(method, path, **kwargs)
        response = conn.getresponse()
        return response.status, response.read()

    def _sample_one(self, conn: http.client.HTTPConnection) -> http.client.HTTPConnection:
        """POST one capture and poll it until analysed; returns the connection to go on with."""
        try:
            status, answer = self._exchange(
                conn, "POST", f"/h/{self.bin_id}", body=self.request.body, headers=self.request.headers_for_one()
            )
            acknowledged = time.perf_counter()
            capture_id = int(json.loads(answer)["request_id"]) if 200 <= status < 300 else None
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            conn.close()
            self.result.failed += 1
            return http.client.HTTPConnection(HOST, self.port, timeout=10)
        if capture_id is None:
            self.result.failed += 1
            return conn
        self.result.ids.append(capture_id)
        path = f"/api/bins/{self.bin_id}/requests/{capture_id}"
        for _ in range(int(self.bound_s / self.poll_s) + 1):  # bounded: each poll sleeps poll_s at least
            try:
                status, answer = self._exchange(conn, "GET", path)
                read_at = time.perf_counter()
                row = json.loads(answer) if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError):
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
                self.result.failed += 1
                row = None
                read_at = time.perf_counter()
            if row is not None and row.get("analysed"):
                self.result.lags_ms.append((read_at - acknowledged) * 1000)
                verdict = str((row.get("signature") or {}).get("status"))
                self.result.verdicts[verdict] = self.result.verdicts.get(verdict, 0) + 1
                return conn
            if read_at - acknowledged > self.bound_s:
                break
            time.sleep(self.poll_s)
        self.result.missed += 1
        return conn


def bin_stats(port: int, bin_id: str) -> dict:
    """`GET /api/bins/<bin>/stats`; raises ServerError for any other answer than 200."""
    status, answer = get(port, f"/api/bins/{bin_id}/stats", timeout=30)
    if status != 200:
        raise ServerError(f"GET /api/bins/{bin_id}/stats answered {status}: {answer[:300]!r}")
    return json.loads(answer)


def wait_analysed(
    port: int, bin_id: str, *, since: float, timeout_s: float, poll_s: float = 0.05
) -> tuple[float | None, dict]:
    """Poll the bin's stats until `unanalysed` is 0. Returns (seconds from `since` — a
    `time.monotonic()` value — to the first such read, or None when `timeout_s` passed first;
    the last stats read)."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = bin_stats(port, bin_id)
        now = time.monotonic()
        if stats["unanalysed"] == 0:
            return now - since, stats
        if now >= deadline:
            return None, stats
        time.sleep(poll_s)
