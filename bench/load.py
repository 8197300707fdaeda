"""Drive a fixed-duration POST load at one URL, with wrk or a built-in threaded client.

Every request sends the same `LoadRequest` (a signed GitHub push webhook, or plain JSON), with
a fresh delivery id per request when the request has one. Both clients return a `LoadResult`: answers counted by status class, latency percentiles, and the
`request_id`s the 2xx answers carried (to check each acknowledged capture was stored).
Neither raises for a refused or timed-out request: those are counted in `errors`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LUA_SCRIPT = Path(__file__).resolve().parent / "post.lua"
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_ID = re.compile(rb'"request_id"\s*:\s*(\d+)')


class LoadError(Exception):
    """The load generator itself failed (wrk missing, crashed, or printed no summary)."""


@dataclass
class LoadResult:
    client: str
    seconds: float  # measured duration of the run
    ok: int  # 2xx answers
    non_2xx: int  # answers of any other status
    errors: int  # connect/read/write errors and timeouts (no answer)
    p50_ms: float
    p99_ms: float
    ids: list[int] = field(default_factory=list, repr=False)  # request_ids of the 2xx answers

    @property
    def rps(self) -> float:
        """2xx answers per second."""
        return self.ok / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class LoadRequest:
    """What every request of a run sends: `POST` `body` with `headers`. When
    `delivery_header` is set, each request also carries that header with a fresh UUID
    (as a real sender's delivery id is)."""

    kind: str  # "github" or "plain"
    body: bytes
    headers: tuple[tuple[str, str], ...]
    delivery_header: str | None = None

    def headers_for_one(self) -> dict[str, str]:
        """The headers of one request (a new delivery id each call)."""
        headers = dict(self.headers)
        if self.delivery_header:
            headers[self.delivery_header] = str(uuid.uuid4())
        return headers


def github_signature(body: bytes, secret: str) -> str:
    """GitHub's `X-Hub-Signature-256` value: `sha256=` + HMAC-SHA256(secret, body) in hex.
    Computed here rather than with Hookloupe's own signer, so the bench checks the verifier
    against an independent implementation."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_request(size: int, secret: str) -> LoadRequest:
    """A GitHub `push` webhook of `size` bytes, signed with `secret`, as GitHub sends it."""
    body = github_body(size)
    headers = (
        ("Content-Type", "application/json"),
        ("User-Agent", "GitHub-Hookshot/bench"),
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", github_signature(body, secret)),
    )
    return LoadRequest("github", body, headers, delivery_header="X-GitHub-Delivery")


def plain_request(size: int) -> LoadRequest:
    """A JSON POST of `size` bytes that no provider claims."""
    return LoadRequest("plain", json_body(size), (("Content-Type", "application/json"),))


def github_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (at least ~600), shaped like a GitHub push event."""
    head = (
        b'{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246",'
        b'"after":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","created":false,"deleted":false,'
        b'"forced":false,"compare":"https://github.com/octocat/Hello-World/compare/6113728f27ae...59b20b8d5c6f",'
        b'"repository":{"id":1296269,"name":"Hello-World","full_name":"octocat/Hello-World","private":false,'
        b'"owner":{"login":"octocat","id":1}},"pusher":{"name":"octocat","email":"octocat@github.com"},'
        b'"sender":{"login":"octocat","id":1,"type":"User"},'
        b'"head_commit":{"id":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","message":"'
    )
    tail = b'"}}'
    if size < len(head) + len(tail):
        raise ValueError(f"a GitHub body must be at least {len(head) + len(tail)} bytes")
    return head + b"x" * (size - len(head) - len(tail)) + tail


def json_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (at least 64), shaped like a webhook event."""
    head = b'{"type":"invoice.paid","id":"evt_bench","data":{"padding":"'
    tail = b'"}}'
    if size < len(head) + len(tail):
        raise ValueError(f"body size must be at least {len(head) + len(tail)} bytes")
    return head + b"x" * (size - len(head) - len(tail)) + tail


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


# --- wrk -------------------------------------------------------------------------------------


def run_wrk(
    url: str, request: LoadRequest, *, seconds: float, connections: int, threads: int, workdir: Path
) -> LoadResult:
    """`wrk --latency` with bench/post.lua; raises LoadError when wrk fails."""
    body_file = workdir / "body.json"
    headers_file = workdir / "headers.txt"
    ids_file = workdir / "wrk-ids.txt"
    body_file.write_bytes(request.body)
    headers_file.write_text("".join(f"{name}: {value}\n" for name, value in request.headers))
    ids_file.unlink(missing_ok=True)
    argv = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body_file),
        "BENCH_HEADERS_FILE": str(headers_file),
        "BENCH_DELIVERY_HEADER": request.delivery_header or "",
        "BENCH_IDS_FILE": str(ids_file),
    }
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired as error:
        raise LoadError(f"wrk did not finish within {seconds + 60:.0f} s") from error
    if done.returncode != 0:
        raise LoadError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    result = parse_wrk_output(done.stdout)
    if ids_file.exists():
        result.ids = [int(line) for line in ids_file.read_text().split()]
    return result


def parse_wrk_output(text: str) -> LoadResult:
    """Read wrk's summary, its `--latency` distribution and post.lua's `BENCH` line.

    2xx = post.lua's exact count when present, else total - "Non-2xx or 3xx responses".
    """
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", text)
    if not total:
        raise LoadError(f"no summary in wrk output:\n{text}")
    requests = int(total.group(1))
    seconds = float(total.group(2)) * _UNIT_MS[total.group(3)] / 1000
    percentiles = {
        int(m.group(1)): float(m.group(2)) * _UNIT_MS[m.group(3)]
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    }
    if 50 not in percentiles or 99 not in percentiles:
        raise LoadError(f"no latency distribution in wrk output (is --latency set?):\n{text}")
    non_2xx_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    bench = re.search(r"BENCH 2xx=(\d+) other=(\d+)", text)
    if bench:
        ok, non_2xx = int(bench.group(1)), int(bench.group(2))
    else:
        non_2xx = int(non_2xx_3xx.group(1)) if non_2xx_3xx else 0
        ok = requests - non_2xx
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return LoadResult("wrk", seconds, ok, non_2xx, errors, percentiles[50], percentiles[99])


# --- built-in client -------------------------------------------------------------------------


def run_builtin(
    url: str, request: LoadRequest, *, seconds: float, connections: int, timeout_s: float = 10.0
) -> LoadResult:
    """`connections` threads, each with one keep-alive http.client connection, POSTing in a
    loop until the deadline (a request in flight then is finished, so every answer is seen).
    Client time is in the latencies: the client shares the GIL and the CPU with the servers."""
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"
    start = threading.Barrier(connections + 1)
    deadline = [0.0]
    lock = threading.Lock()
    totals = {"ok": 0, "non_2xx": 0, "errors": 0}
    latencies: list[float] = []
    ids: list[int] = []

    def worker() -> None:
        mine: list[float] = []
        my_ids: list[int] = []
        counts = {"ok": 0, "non_2xx": 0, "errors": 0}
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        start.wait()
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            try:
                conn.request("POST", path, body=request.body, headers=request.headers_for_one())
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                counts["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
                time.sleep(0.01)  # a refused connection must not become a busy loop
                continue
            mine.append((time.perf_counter() - began) * 1000)
            if 200 <= response.status < 300:
                counts["ok"] += 1
                found = _ID.search(answer)
                if found:
                    my_ids.append(int(found.group(1)))
            else:
                counts["non_2xx"] += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            ids.extend(my_ids)
            for key, value in counts.items():
                totals[key] += value

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in workers:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in workers:
        thread.join(timeout=seconds + timeout_s + 5)
    elapsed = time.perf_counter() - began
    latencies.sort()
    return LoadResult(
        "builtin",
        elapsed,
        totals["ok"],
        totals["non_2xx"],
        totals["errors"],
        percentile(latencies, 50),
        percentile(latencies, 99),
        ids,
    )


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def run(
    client: str, url: str, request: LoadRequest, *, seconds: float, connections: int, wrk_threads: int, workdir: Path
) -> LoadResult:
    if client == "wrk":
        return run_wrk(url, request, seconds=seconds, connections=connections, threads=wrk_threads, workdir=workdir)
    return run_builtin(url, request, seconds=seconds, connections=connections)


def result_json(result: LoadResult) -> dict:
    return {
        "client": result.client,
        "seconds": round(result.seconds, 3),
        "rps": round(result.rps, 1),
        "ok": result.ok,
        "non_2xx": result.non_2xx,
        "errors": result.errors,
        "p50_ms": round(result.p50_ms, 3),
        "p99_ms": round(result.p99_ms, 3),
    }
