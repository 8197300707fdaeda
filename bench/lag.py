"""Analysis lag: how long after its 2xx answer a capture reads as analysed, and how long a bin's backlog takes to clear.

`LagSampler` runs beside a capture load: every `interval_s` it POSTs one capture to the bin
on its own keep-alive connection, and follows `GET /api/bins/<bin>/requests/<id>` of the
oldest outstanding one every `poll_s` until it reads `analysed`. `wait_analysed` polls `GET /api/bins/<bin>/stats` until
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
    """A thread timing the analysis lag of captures sent every `interval_s` while a load runs.

    Samples are sent on schedule whether or not earlier ones are analysed yet (under
    saturation the analysis waits for the load, and the lag is what this measures). Only the
    oldest outstanding sample is polled, every `poll_s`: the analyser works in capture order,
    so once it reads as analysed the next ones are checked at once. After `stop()` no sample
    is sent; `join()` waits until the outstanding ones are analysed or `bound_s` has passed
    since each was acknowledged."""

    def __init__(
        self,
        port: int,
        bin_id: str,
        request: LoadRequest,
        *,
        interval_s: float = 0.1,
        poll_s: float = 0.02,
        bound_s: float = 60.0,
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
        self._outstanding: list[tuple[int, float]] = []  # (capture id, 2xx time), oldest first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lag-sampler", daemon=True)

    def start(self) -> LagSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Send no further sample (the outstanding ones are still followed)."""
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
            while time.monotonic() - began < self.max_s + self.bound_s:
                sending = not self._stop.is_set() and time.monotonic() - began < self.max_s
                if not sending and not self._outstanding:
                    break
                if sending and time.monotonic() >= next_send:
                    next_send = max(next_send + self.interval_s, time.monotonic())
                    conn = self._send(conn)
                conn = self._check(conn)
                time.sleep(self.poll_s)
        finally:
            self.result.missed += len(self._outstanding)
            conn.close()

    def _exchange(self, conn: http.client.HTTPConnection, method: str, path: str, **kwargs) -> tuple[int, bytes]:
        conn.request(method, path, **kwargs)
        response = conn.getresponse()
        return response.status, response.read()

    def _reconnect(self, conn: http.client.HTTPConnection) -> http.client.HTTPConnection:
        conn.close()
        self.result.failed += 1
        return http.client.HTTPConnection(HOST, self.port, timeout=10)

    def _send(self, conn: http.client.HTTPConnection) -> http.client.HTTPConnection:
        """POST one capture; remember its id and when it was acknowledged."""
        try:
            status, answer = self._exchange(
                conn, "POST", f"/h/{self.bin_id}", body=self.request.body, headers=self.request.headers_for_one()
            )
            acknowledged = time.perf_counter()
            capture_id = int(json.loads(answer)["request_id"]) if 200 <= status < 300 else None
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            return self._reconnect(conn)
        if capture_id is None:
            self.result.failed += 1
        else:
            self.result.ids.append(capture_id)
            self._outstanding.append((capture_id, acknowledged))
        return conn

    def _check(self, conn: http.client.HTTPConnection) -> http.client.HTTPConnection:
        """Read the oldest outstanding samples, in order, until one is not analysed yet."""
        while self._outstanding:
            capture_id, acknowledged = self._outstanding[0]
            try:
                status, answer = self._exchange(conn, "GET", f"/api/bins/{self.bin_id}/requests/{capture_id}")
                read_at = time.perf_counter()
                row = json.loads(answer) if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError):
                return self._reconnect(conn)
            if row is not None and row.get("analysed"):
                self.result.lags_ms.append((read_at - acknowledged) * 1000)
                verdict = str((row.get("signature") or {}).get("status"))
                self.result.verdicts[verdict] = self.result.verdicts.get(verdict, 0) + 1
            elif read_at - acknowledged > self.bound_s:
                self.result.missed += 1
            else:
                return conn
            self._outstanding.pop(0)
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
