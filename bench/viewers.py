"""Live viewers of one bin on a default `hookloupe serve`: how many connect, how fast a capture
reaches them, what they cost capture throughput and worker memory (issue 15).

    python bench/viewers.py [--viewers 500] [--quick] [--endpoint page|api|both] [--json out.json]

A separate process (`--view`, asyncio on raw sockets) holds the viewers, each a real SSE client
on its own connection: the page's stream `GET /bins/<bin>/stream?after=<id>` as the htmx sse
extension opens it (an EventSource: `Accept: text/event-stream`, `Cache-Control: no-cache`,
`Last-Event-ID` on a reconnect), or the API's `GET /api/bins/<bin>/events`. Each kind gets a
fresh server (SQLite, or `--database-url`); HOOKLOUPE_* variables set here reach it.

- connect: the N viewers open at once; each streams (its first message arrived), is refused
  (status and Retry-After kept) or fails (no answer within 10 s).
- fan-out: the viewer process sends captures to the viewers' bin one at a time, each on a
  fresh connection after a random 0-200 ms pause, and times from each capture's 2xx answer to
  its arrival at each open viewer (one clock): p50/p90/max over every (capture, viewer) pair,
  and the time until the last viewer had it; a capture not there within 5 s is missed.
- memory: VmRSS of every gunicorn worker after warm-up (idle) and with the viewers open after
  the fan-out; the goal is judged on the sum over workers.
- throughput (the first kind only): wrk (else bench/load.py's client) POSTs bench/run.py's
  signed GitHub capture to another bin, in rounds without and with the viewers open, each
  round's order alternating (without, with / with, without / ...); median req/s of each, their
  ratio, and the median of the rounds' ratios. Then one more round with the viewers open while
  captures to their bin are timed (fan-out under load; kept out of the ratio).
- between rounds the viewers close, and the server must drop their streams: a stream sees that
  its client left only when a write fails, so captures to the bin nudge every stream to write.

Exit status: 0 when every goal is met, 1 when one is not, 2 when the server, the load
generator or the viewer process failed. Everything is on 127.0.0.1, bounded, and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import queue
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load, parse_with_quick, servers  # noqa: E402
from bench.load import percentile  # noqa: E402
from inspector import config  # noqa: E402
from inspector.cli import default_workers  # noqa: E402

HOST = servers.HOST
# Issue 15's goals.
GOAL_VIEWERS = 500
GOAL_THROUGHPUT_RATIO = 0.9  # capture req/s with the viewers open ÷ without
GOAL_FANOUT_P90_MS = 500
GOAL_RSS_GROWTH_MIB = 20  # all workers' VmRSS with the viewers open, over idle
# The capture load signs with this GitHub secret, as bench/run.py's does.
SECRET = "bench-viewers-secret"
ENDPOINTS = {"page": "/bins/{bin}/stream", "api": "/api/bins/{bin}/events"}
# A viewer waits this long for its connection and for the answer's head.
CONNECT_TIMEOUT_S = 10.0
# `open` waits at most this long for every viewer to stream, be refused or fail.
OPEN_TIMEOUT_S = 30.0
# A capture not at a viewer this long after its answer is counted as missed there.
ARRIVAL_TIMEOUT_S = 5.0
# After the viewers close, the server must have ended their streams within this long.
DRAIN_TIMEOUT_S = 40.0
QUICK = {"viewers": 100, "rounds": 1, "seconds": 3, "warmup": 1, "captures": 5}
# The code that decides these figures: a short hash of each, in the JSON (the tree moves).
CODE_FILES = ("inspector/stream.py", "inspector/watch.py", "inspector/views/common.py", "inspector/config.py")
# The server's settings the report quotes.
SETTINGS = ("STREAM_MAX_PER_WORKER", "STREAM_POLL_S", "STREAM_HEARTBEAT_S", "ANALYSIS_WAIT_S")
_OPEN_STREAMS = re.compile(r"^hookloupe_open_streams(?:\{[^}]*\})? ([0-9.eE+-]+)$", re.MULTILINE)


# --- the viewer process (`--view`): holds the viewers, sends and times the captures ----------


@dataclass
class Viewer:
    """One live viewer: an SSE client on its own connection, reconnecting as a browser does."""

    state: str = "new"  # connecting, open, refused (non-200), failed (no answer), closed
    status: int | None = None  # the first answer's status
    retry_after: str | None = None  # its Retry-After, when refused
    error: str | None = None
    seen: dict[int, float] = field(default_factory=dict)  # capture id -> monotonic arrival
    last_id: int | None = None
    ended_by_server: int = 0  # streams the server ended (STREAM_MAX_S, a stopping worker)
    reconnects: int = 0


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """An HTTP/1.1 answer's status and headers (names lower-cased); ValueError when malformed."""
    status_line = await reader.readline()
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"no HTTP status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(200):
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return int(parts[1]), headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    raise ValueError("more than 200 header lines")


async def body_chunks(reader: asyncio.StreamReader, headers: dict[str, str]):
    """The body's bytes as they arrive: de-chunked (gunicorn streams HTTP/1.1 answers chunked),
    else up to the end of the connection. Ends at the last chunk or at EOF."""
    if "chunked" not in headers.get("transfer-encoding", "").lower():
        while data := await reader.read(65536):
            yield data
        return
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            return
        yield (await reader.readexactly(size + 2))[:-2]


def viewer_request(path: str, viewer: Viewer) -> bytes:
    """What an EventSource sends (cookies and the browser's own headers aside)."""
    resume = f"Last-Event-ID: {viewer.last_id}\r\n" if viewer.last_id is not None else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
        f"User-Agent: hookloupe-bench-viewer\r\n{resume}\r\n"
    ).encode()


async def follow(viewer: Viewer, port: int, path: str, stop: asyncio.Event) -> None:
    """Stream until `stop`; reconnect (after the stream's `retry: 1000`) when the server ends
    the stream; give up at a refusal or a failure, as the first attempt's figures count."""
    while not stop.is_set():
        viewer.state = "connecting"
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), CONNECT_TIMEOUT_S)
            writer.write(viewer_request(path, viewer))
            status, headers = await asyncio.wait_for(read_head(reader), CONNECT_TIMEOUT_S)
            if viewer.status is None:
                viewer.status = status
            if status != 200:
                viewer.state, viewer.retry_after = "refused", headers.get("retry-after")
                return
            buffer = b""
            async for chunk in body_chunks(reader, headers):
                arrived = time.monotonic()
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                for block in blocks:
                    viewer.state = "open"  # the first block is `retry: 1000`
                    for line in block.split(b"\n"):
                        if line.startswith(b"id: "):
                            capture_id = int(line[4:])
                            viewer.seen.setdefault(capture_id, arrived)
                            viewer.last_id = capture_id
            viewer.ended_by_server += 1
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as error:
            if viewer.state != "open":
                viewer.state, viewer.error = "failed", f"{type(error).__name__}: {error}"
                return
            viewer.ended_by_server += 1  # broken mid-stream: reconnect as a browser would
        finally:
            if writer is not None:
                writer.close()
        if not stop.is_set():
            viewer.reconnects += 1
            await asyncio.sleep(1.0)
    viewer.state = "closed"


async def post_capture(port: int, bin_id: str, number: int) -> tuple[int | None, float]:
    """POST one capture on a fresh connection (a kept-alive one would stay on one worker);
    (its request_id or None when not answered 2xx, monotonic time its answer was read)."""
    body = json.dumps({"viewers_bench": number}).encode()
    head = (
        f"POST /h/{bin_id} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), CONNECT_TIMEOUT_S)
    try:
        writer.write(head + body)
        status, headers = await asyncio.wait_for(read_head(reader), CONNECT_TIMEOUT_S)
        length = int(headers.get("content-length", "0"))
        answer = await asyncio.wait_for(reader.readexactly(length), CONNECT_TIMEOUT_S)
        acked = time.monotonic()
    finally:
        writer.close()
    found = re.search(rb'"request_id"\s*:\s*(\d+)', answer)
    return (int(found.group(1)) if 200 <= status < 300 and found else None), acked


class Viewers:
    """The viewers of one open, and the captures sent to their bin."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.viewers: list[Viewer] = []
        self.tasks: list[asyncio.Task] = []
        self.stop = asyncio.Event()
        self.highest: dict[str, int] = {}  # bin -> highest capture id acknowledged there

    def counts(self) -> dict:
        states = [v.state for v in self.viewers]
        refused = [v for v in self.viewers if v.state == "refused"]
        return {
            "viewers": len(self.viewers),
            "open": states.count("open"),
            "connecting": states.count("connecting"),
            "refused": len(refused),
            "refused_503": sum(1 for v in refused if v.status == 503),
            "refused_with_retry_after": sum(1 for v in refused if v.retry_after),
            "retry_after_values": sorted({v.retry_after for v in refused if v.retry_after}),
            "failed": states.count("failed"),
            "errors": sorted({v.error for v in self.viewers if v.error})[:5],
            "ended_by_server": sum(v.ended_by_server for v in self.viewers),
            "reconnects": sum(v.reconnects for v in self.viewers),
        }

    async def open(self, endpoint: str, bin_id: str, count: int) -> dict:
        """Open `count` viewers at once; wait until each streams, is refused or fails."""
        await self.close()
        self.stop = asyncio.Event()
        path = ENDPOINTS[endpoint].format(bin=bin_id) + f"?after={self.highest.get(bin_id, 0)}"
        self.viewers = [Viewer() for _ in range(count)]
        started = time.monotonic()
        self.tasks = [asyncio.create_task(follow(v, self.port, path, self.stop)) for v in self.viewers]
        deadline = started + OPEN_TIMEOUT_S
        while time.monotonic() < deadline and any(v.state in ("new", "connecting") for v in self.viewers):
            await asyncio.sleep(0.02)
        return {**self.counts(), "open_s": round(time.monotonic() - started, 2)}

    async def close(self) -> dict:
        self.stop.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for viewer in self.viewers:
            viewer.state = "closed"
        closed = len(self.tasks)
        self.tasks = []
        return {"closed": closed}

    async def fanout(self, bin_id: str, captures: int, *, gap_s: float, max_s: float) -> dict:
        """Send up to `captures` captures to the bin one at a time (each after a random pause
        of up to `gap_s`, so they land at random points of the streams' poll), each waited
        for at every open viewer up to ARRIVAL_TIMEOUT_S; stop sending after `max_s`."""
        rng = random.Random(15)
        pairs: list[float] = []  # seconds, every (capture, viewer) arrival
        all_reached: list[float] = []  # seconds until the last open viewer had it
        per_capture: list[dict] = []
        failed_sends = 0
        until = time.monotonic() + max_s
        for number in range(captures):
            if time.monotonic() >= until:
                break
            await asyncio.sleep(rng.uniform(0, gap_s))
            watching = [v for v in self.viewers if v.state == "open"]
            try:
                capture_id, acked = await post_capture(self.port, bin_id, number)
            except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
                capture_id, acked = None, time.monotonic()
            if capture_id is None:
                failed_sends += 1
                continue
            self.highest[bin_id] = max(self.highest.get(bin_id, 0), capture_id)
            deadline = acked + ARRIVAL_TIMEOUT_S
            while time.monotonic() < deadline and not all(capture_id in v.seen for v in watching):
                await asyncio.sleep(0.005)
            delays = [v.seen[capture_id] - acked for v in watching if capture_id in v.seen]
            pairs += delays
            if watching and len(delays) == len(watching):
                all_reached.append(max(delays))
            per_capture.append({"id": capture_id, "open": len(watching), "got": len(delays)})
        return {
            "captures": len(per_capture),
            "failed_sends": failed_sends,
            "pairs": len(pairs),
            "missed_pairs": sum(c["open"] - c["got"] for c in per_capture),
            "reached_every_open_viewer": sum(1 for c in per_capture if c["got"] == c["open"] and c["open"]),
            "viewers_min": min((c["open"] for c in per_capture), default=0),
            "got_min": min((c["got"] for c in per_capture), default=0),
            **spread("pair", pairs),
            **spread("all", all_reached),
            "per_capture": per_capture,
        }


def spread(prefix: str, seconds: list[float]) -> dict:
    """p50/p90/max in ms (nearest rank) of `seconds`, keys prefixed."""
    ordered = sorted(seconds)
    if not ordered:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p90_ms": None, f"{prefix}_max_ms": None}
    return {
        f"{prefix}_p50_ms": round(1000 * percentile(ordered, 50), 1),
        f"{prefix}_p90_ms": round(1000 * percentile(ordered, 90), 1),
        f"{prefix}_max_ms": round(1000 * ordered[-1], 1),
    }


async def view_main(port: int, max_s: float) -> None:
    """Answer one JSON line on stdout for each JSON command line on stdin, until `quit`, EOF
    or `max_s`: open / fanout / counts / close / quit."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    held = Viewers(port)
    until = time.monotonic() + max_s
    try:
        while (left := until - time.monotonic()) > 0:
            try:
                line = await asyncio.wait_for(commands.readline(), left)
            except TimeoutError:
                break
            if not line:
                break
            command = json.loads(line)
            name = command.pop("cmd")
            if name == "open":
                reply = await held.open(command["endpoint"], command["bin"], command["count"])
            elif name == "fanout":
                reply = await held.fanout(
                    command["bin"],
                    command["captures"],
                    gap_s=command["gap_s"],
                    max_s=command["max_s"],
                )
            elif name == "counts":
                reply = held.counts()
            elif name == "close":
                reply = await held.close()
            elif name == "quit":
                break
            else:
                reply = {"error": f"unknown command {name!r}"}
            print(json.dumps(reply), flush=True)
    finally:
        await held.close()


def view_process_main(port: int, max_s: float) -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(view_main(port, max_s))
    return 0


# --- the measuring side ----------------------------------------------------------------------


class ViewerError(Exception):
    """The viewer process failed, exited, or did not answer a command in time."""


class ViewerProcess:
    """`bench/viewers.py --view` in a subprocess, driven by one JSON line per command."""

    def __init__(self, port: int, max_s: float) -> None:
        argv = [sys.executable, __file__, "--view", "--port", str(port), "--max-s", str(max_s)]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, cmd: str, **arguments: object) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"cmd": cmd, **arguments}) + "\n")
            self.process.stdin.flush()
        except OSError as error:
            raise ViewerError(f"the viewer process is gone: {error}") from error

    def reply(self, timeout_s: float) -> dict:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise ViewerError(f"the viewer process did not answer within {timeout_s:g} s") from None
        if line is None:
            raise ViewerError(f"the viewer process exited ({self.process.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise ViewerError(answer["error"])
        return answer

    def ask(self, cmd: str, timeout_s: float = 60, **arguments: object) -> dict:
        self.send(cmd, **arguments)
        return self.reply(timeout_s)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ViewerError):
                self.send("quit")
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the processes whose parent is the master."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    return sorted(pids)


def rss_mib(pids: list[int]) -> list[float]:
    """VmRSS of each process in MiB (0.0 for one that is gone)."""
    found = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            found.append(0.0)
            continue
        kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        found.append(round(kib / 1024, 1))
    return found


def open_streams(port: int) -> int | None:
    """`hookloupe_open_streams` from /metrics (every worker's streams), None when unreadable."""
    try:
        status, body = servers.get(port, "/metrics")
    except OSError:
        return None
    found = _OPEN_STREAMS.search(body.decode(errors="replace")) if status == 200 else None
    return round(float(found.group(1))) if found else None


def drain(port: int, bin_id: str, timeout_s: float) -> dict:
    """After the viewers closed: seconds until the server holds no stream (None when it still
    does after `timeout_s`). A stream sees that its viewer left only when a write fails: its
    second write after the close (the first draws the peer's RST), which is its heartbeats,
    10-20 s, when nothing happens. So while streams remain, a capture to their bin every
    0.7 s (`nudges`) makes each of them write."""
    started = time.monotonic()
    nudges = 0
    while time.monotonic() - started < timeout_s:
        if open_streams(port) == 0:
            return {"seconds": round(time.monotonic() - started, 2), "nudges": nudges}
        servers.post(port, f"/h/{bin_id}", b'{"nudge": true}')
        nudges += 1
        time.sleep(0.7)
    return {"seconds": None, "nudges": nudges, "left": open_streams(port)}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (a gone one counts 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return total / os.sysconf("SC_CLK_TCK")


def sockets(pids: list[int]) -> list[int]:
    """Open sockets of each process (its viewers' connections, plus a few: listener, database)."""
    found = []
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        count = 0
        with contextlib.suppress(OSError):
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):
                    count += fd.readlink().name.startswith("socket:")
        found.append(count)
    return found


def code_hashes() -> dict[str, str]:
    return {name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:12] for name in CODE_FILES}


def create_bin(port: int, name: str) -> str:
    status, answer = servers.post(port, "/api/bins", json.dumps({"name": name}).encode())
    if status != 201:
        raise servers.ServerError(f"POST /api/bins answered {status}: {answer[:300]!r}")
    return json.loads(answer)["id"]


def add_secret(port: int, bin_id: str) -> None:
    payload = {"label": "bench", "value": SECRET, "provider": "github"}
    status, answer = servers.post(port, f"/api/bins/{bin_id}/secrets", json.dumps(payload).encode())
    if status != 201:
        raise servers.ServerError(f"POST /api/bins/{bin_id}/secrets answered {status}: {answer[:300]!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: " + ", ".join(f"--{k} {v}" for k, v in QUICK.items())
    )
    parser.add_argument("--viewers", type=int, default=GOAL_VIEWERS, help="live viewers opened on one bin")
    parser.add_argument(
        "--endpoint",
        choices=["page", "api", "both"],
        default="both",
        help="page: /bins/<bin>/stream (what the page opens); api: /api/bins/<bin>/events; both: throughput "
        "rounds with the page's stream, then connects, fan-out and memory for the API's too",
    )
    parser.add_argument("--captures", type=int, default=20, help="captures timed from answer to every viewer")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds, each one without and one with")
    parser.add_argument("--seconds", type=float, default=10, help="length of one throughput round")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured capture load before anything")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections of the capture load")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--client", choices=["auto", "wrk", "builtin"], default="auto", help="load generator")
    parser.add_argument("--workers", type=int, default=default_workers(), help="hookloupe serve's default")
    parser.add_argument("--database-url", default=None, help="HOOKLOUPE_DATABASE_URL; unset means SQLite")
    parser.add_argument("--json", metavar="PATH", type=Path, default=None, help="also write every figure as JSON")
    parser.add_argument("--view", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max-s", type=float, default=900, help=argparse.SUPPRESS)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return parse_with_quick(build_parser(), QUICK, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.view:
        return view_process_main(args.port, args.max_s)
    client = args.client
    if client == "auto":
        client = "wrk" if load.have_wrk() else "builtin"
    elif client == "wrk" and not load.have_wrk():
        print("wrk is not installed (Debian: apt-get install wrk); use --client builtin", file=sys.stderr)
        return 2
    if args.viewers < 1 or args.rounds < 1 or args.seconds <= 0 or args.captures < 1:
        print("--viewers, --rounds, --seconds and --captures must be positive", file=sys.stderr)
        return 2
    endpoints = ["page", "api"] if args.endpoint == "both" else [args.endpoint]
    code = code_hashes()  # as the servers load it (each worker imports the tree at its start)
    phases: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="hookloupe-viewers-") as tmp:
        for endpoint in endpoints:
            # A fresh server for each kind of viewer: memory an earlier phase grew and freed
            # would otherwise be reused, and the later phase would look cheaper than it is.
            workdir = Path(tmp) / endpoint
            workdir.mkdir()
            env = {"HOOKLOUPE_DATABASE_URL": args.database_url} if args.database_url else {}
            server = servers.hookloupe_server(
                workdir, workdir / "instance", workers=args.workers, connections=1000, env=env
            )
            try:
                server.start()
            except servers.ServerError as error:
                print(f"server failed to start: {error}", file=sys.stderr)
                return 2
            viewers = ViewerProcess(server.port, max_s=900)
            try:
                phases[endpoint] = run_phase(args, client, endpoint, server, viewers, workdir, endpoint == endpoints[0])
            except (load.LoadError, servers.ServerError, ViewerError, OSError) as error:
                print(f"benchmark failed: {error}\n--- hookloupe log ---\n{server.log_tail()}", file=sys.stderr)
                return 2
            finally:
                viewers.stop()
                server.stop()
            phases[endpoint]["server_log"] = log_findings(server)
    report = {
        "settings": {
            "viewers": args.viewers,
            "endpoints": [ENDPOINTS[e] for e in endpoints],
            "client": client,
            "rounds": args.rounds,
            "seconds": args.seconds,
            "connections": args.connections,
            "captures": args.captures,
            "workers": args.workers,
            **{name.lower(): setting(name) for name in SETTINGS},
            "database": "postgresql" if args.database_url else "sqlite",
            "code": code,
        },
        "phases": phases,
    }
    report["goals"] = goals(report)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nfigures written to {args.json}")
    return 0 if all(goal["met"] for goal in report["goals"]) else 1


def setting(name: str) -> float:
    """The server's setting: HOOKLOUPE_<NAME> from our environment (the server inherits it), else config.py's."""
    return float(os.environ.get(f"HOOKLOUPE_{name}") or getattr(config, name))


def run_phase(
    args,
    client: str,
    endpoint: str,
    server: servers.Server,
    viewers: ViewerProcess,
    workdir: Path,
    with_throughput: bool,
) -> dict:
    """One kind of viewer on a fresh server: connect, fan-out, memory; and, when asked, the
    throughput rounds."""
    port = server.port
    request = load.github_request(1024, SECRET)
    load_bin = create_bin(port, "viewers-load")
    add_secret(port, load_bin)
    bin_id = create_bin(port, f"viewers-{endpoint}")

    def drive(seconds: float) -> load.LoadResult:
        return load.run(
            client,
            f"{server.url}/h/{load_bin}",
            request,
            seconds=seconds,
            connections=args.connections,
            wrk_threads=args.wrk_threads,
            workdir=workdir,
        )

    def close_and_drain() -> dict:
        viewers.ask("close")
        return drain(port, bin_id, DRAIN_TIMEOUT_S)

    print(f"{endpoint}: warming up ({args.warmup:g} s of capture load, {client}) ...", flush=True)
    drive(args.warmup)
    for _ in range(2 * args.workers):  # each worker renders the page and a row once
        servers.post(port, f"/h/{bin_id}", b'{"warm": true}')
        servers.get(port, f"/bins/{bin_id}")
    time.sleep(1.0)
    pids = worker_pids(server.process.pid)  # type: ignore[union-attr]
    if len(pids) != args.workers:
        raise servers.ServerError(f"expected {args.workers} gunicorn workers, found {pids}")
    idle, idle_sockets = rss_mib(pids), sockets(pids)
    print(f"{endpoint}: opening {args.viewers} viewers of {ENDPOINTS[endpoint]} ...", flush=True)
    opened = viewers.ask("open", timeout_s=OPEN_TIMEOUT_S + 30, endpoint=endpoint, bin=bin_id, count=args.viewers)
    opened["server_open_streams"] = open_streams(port)
    print(f"{endpoint}: timing {args.captures} captures to every viewer ...", flush=True)
    fanout = viewers.ask(
        "fanout",
        timeout_s=args.captures * (ARRIVAL_TIMEOUT_S + 1) + 30,
        bin=bin_id,
        captures=args.captures,
        gap_s=0.2,
        max_s=args.captures * (ARRIVAL_TIMEOUT_S + 1),
    )
    time.sleep(1.0)
    phase = {
        "endpoint": ENDPOINTS[endpoint].format(bin=bin_id),
        "worker_pids": pids,
        "connect": opened,
        "fanout": fanout,
        "rss_mib": {"idle": idle, "with_viewers": rss_mib(pids)},
        "sockets": {"idle": idle_sockets, "with_viewers": sockets(pids)},
        "counts_after_fanout": viewers.ask("counts"),
    }
    if with_throughput:
        phase.update(throughput(args, endpoint, drive, viewers, bin_id, close_and_drain, pids))
    phase["drain"] = close_and_drain()
    phase["rss_mib"]["after_close"] = rss_mib(pids)
    return phase


def throughput(
    args, endpoint: str, drive, viewers: ViewerProcess, bin_id: str, close_and_drain, pids: list[int]
) -> dict:
    """Capture load at another bin without and with the viewers open, in rounds that alternate
    which goes first (without, with / with, without / ...); then one more round with the
    viewers open while captures to their bin are timed (kept out of the ratio).

    Also the workers' CPU time per 2xx capture in each round: what other processes on the
    machine take moves req/s far more than it moves that, so its ratio (without ÷ with) is the
    steadier estimate of what the viewers cost capture when the workers are CPU-bound."""
    state = {"open": True}  # the viewers are open when this starts
    reopened: list[dict] = []
    drains: list[dict] = []

    def set_viewers(wanted: bool) -> None:
        if wanted and not state["open"]:
            reopened.append(
                viewers.ask("open", timeout_s=OPEN_TIMEOUT_S + 30, endpoint=endpoint, bin=bin_id, count=args.viewers)
            )
            time.sleep(1.0)
        elif not wanted and state["open"]:
            drains.append(close_and_drain())
        state["open"] = wanted

    rounds = []
    for number in range(1, args.rounds + 1):
        order = ("without", "with") if number % 2 else ("with", "without")
        results: dict[str, dict] = {}
        for kind in order:
            set_viewers(kind == "with")
            print(f"round {number}/{args.rounds}: capture load {kind} viewers ({args.seconds:g} s) ...", flush=True)
            cpu_before = cpu_seconds(pids)
            run = drive(args.seconds)
            result = load.result_json(run)
            result["cpu_ms_per_capture"] = round(1000 * (cpu_seconds(pids) - cpu_before) / max(1, run.ok), 4)
            if kind == "with":
                result["viewers_open_after"] = viewers.ask("counts")["open"]
            results[kind] = result
        results["ratio"] = (
            round(results["with"]["rps"] / results["without"]["rps"], 3) if results["without"]["rps"] else 0
        )
        results["cpu_ratio"] = round(
            results["without"]["cpu_ms_per_capture"] / max(1e-9, results["with"]["cpu_ms_per_capture"]), 3
        )
        rounds.append(results)
    median = {kind: statistics.median(r[kind]["rps"] for r in rounds) for kind in ("without", "with")}
    cpu = {kind: statistics.median(r[kind]["cpu_ms_per_capture"] for r in rounds) for kind in ("without", "with")}

    set_viewers(True)
    print(
        f"loaded fan-out round: capture load with viewers, captures to their bin timed ({args.seconds:g} s) ...",
        flush=True,
    )
    viewers.send("fanout", bin=bin_id, captures=1000, gap_s=0.5, max_s=args.seconds)
    loaded = load.result_json(drive(args.seconds))
    loaded_fanout = viewers.reply(timeout_s=args.seconds + ARRIVAL_TIMEOUT_S + 30)
    return {
        "rounds": rounds,
        "median_rps": median,
        "ratio": round(median["with"] / median["without"], 3) if median["without"] else 0,
        # Each round's pair ran back to back: steadier than the ratio of medians on a shared machine.
        "median_round_ratio": round(statistics.median(r["ratio"] for r in rounds), 3),
        "median_cpu_ms_per_capture": cpu,
        "cpu_ratio": round(cpu["without"] / cpu["with"], 3) if cpu["with"] else 0,
        "reopened": reopened,
        "drains": drains,
        "loaded_round": {"load": loaded, "fanout": loaded_fanout},
    }


def log_findings(server: servers.Server, limit: int = 20) -> dict:
    """Tracebacks, errors and warnings in the server's log (the first `limit` such lines)."""
    markers = ("Traceback", "[ERROR]", "[CRITICAL]", "WARNING", "Exception", "Error:")
    lines = [line for line in server.log_tail(chars=5_000_000).splitlines() if any(m in line for m in markers)]
    return {"matching_lines": len(lines), "first": lines[:limit]}


def goals(report: dict) -> list[dict]:
    """Issue 15's goals, each with its figure and whether it is met."""
    wanted = report["settings"]["viewers"]
    found = []
    for endpoint, phase in report["phases"].items():
        c, f, rss = phase["connect"], phase["fanout"], phase["rss_mib"]
        refused_ok = c["refused"] == c["refused_503"] == c["refused_with_retry_after"]
        found.append(
            {
                "goal": f"{endpoint}: all {wanted} viewers stream",
                "figure": f"{c['open']} open, {c['refused_503']} got 503 "
                f"({c['refused_with_retry_after']} with Retry-After), {c['failed']} failed, "
                f"{c['refused'] - c['refused_503']} other refusals",
                "met": c["open"] == wanted,
            }
        )
        if c["refused"]:
            found.append(
                {
                    "goal": f"{endpoint}: a viewer beyond capacity gets 503 + Retry-After, none fails",
                    "figure": f"{c['refused_with_retry_after']} of {c['refused']} refusals; {c['failed']} failed",
                    "met": refused_ok and not c["failed"],
                }
            )
        found.append(
            {
                "goal": f"{endpoint}: fan-out p90 ≤ {GOAL_FANOUT_P90_MS} ms, every open viewer gets every capture",
                "figure": f"p50 {f['pair_p50_ms']}, p90 {f['pair_p90_ms']}, max {f['pair_max_ms']} ms over "
                f"{f['pairs']} pairs; {f['missed_pairs']} missed; last viewer p90 {f['all_p90_ms']} ms",
                "met": f["pair_p90_ms"] is not None
                and f["pair_p90_ms"] <= GOAL_FANOUT_P90_MS
                and f["missed_pairs"] == 0
                and not f["failed_sends"],
            }
        )
        growth = sum(rss["with_viewers"]) - sum(rss["idle"])
        found.append(
            {
                "goal": f"{endpoint}: worker RSS with viewers ≤ idle + {GOAL_RSS_GROWTH_MIB} MiB (all workers)",
                "figure": f"idle {sum(rss['idle']):.1f}, with {c['open']} open {sum(rss['with_viewers']):.1f} MiB "
                f"({growth:+.1f}); per worker {rss['idle']} -> {rss['with_viewers']}",
                "met": growth <= GOAL_RSS_GROWTH_MIB,
            }
        )
        if "ratio" in phase:
            m = phase["median_rps"]
            found.append(
                {
                    "goal": f"{endpoint}: capture req/s with viewers ≥ {GOAL_THROUGHPUT_RATIO:.0%} of without",
                    "figure": f"median {m['with']:.0f} vs {m['without']:.0f} req/s = {phase['ratio']:.3f} "
                    f"(per round: {', '.join(str(r['ratio']) for r in phase['rounds'])}; median {phase['median_round_ratio']}); "
                    f"worker CPU per capture {phase['median_cpu_ms_per_capture']['without']:.3f} vs "
                    f"{phase['median_cpu_ms_per_capture']['with']:.3f} ms -> {phase['cpu_ratio']}",
                    "met": phase["ratio"] >= GOAL_THROUGHPUT_RATIO,
                }
            )
    return found


def print_report(report: dict) -> None:
    s = report["settings"]
    cap = round(s["stream_max_per_worker"])
    print(
        f"\nLive viewers: `hookloupe serve` ({s['workers']} gevent workers, {s['database']}, "
        f"STREAM_MAX_PER_WORKER {cap} -> capacity {s['workers'] * cap}, STREAM_POLL_S {s['stream_poll_s']:g}, "
        f"STREAM_HEARTBEAT_S {s['stream_heartbeat_s']:g}), {s['viewers']} viewers; capture load {s['client']} "
        f"{s['connections']} connections, {s['rounds']} x {s['seconds']:g} s rounds; a fresh server per kind"
    )
    for endpoint, p in report["phases"].items():
        c, f = p["connect"], p["fanout"]
        print(
            f"\n{endpoint} ({p['endpoint']}): opened in {c['open_s']} s: {c['open']} open "
            f"(server counts {c['server_open_streams']}), {c['refused']} refused "
            f"(503: {c['refused_503']}, Retry-After {c['retry_after_values'] or '-'}), {c['failed']} failed"
        )
        print(
            f"  fan-out, {f['captures']} captures one at a time: pairs p50 {f['pair_p50_ms']} / p90 "
            f"{f['pair_p90_ms']} / max {f['pair_max_ms']} ms; last viewer p50 {f['all_p50_ms']} / p90 "
            f"{f['all_p90_ms']} / max {f['all_max_ms']} ms; reached every open viewer "
            f"{f['reached_every_open_viewer']}/{f['captures']}, {f['missed_pairs']} missed pairs"
        )
        if "rounds" in p:
            for number, r in enumerate(p["rounds"], 1):
                print(
                    f"  round {number}: without {r['without']['rps']:.0f} req/s (p99 {r['without']['p99_ms']:.1f} ms), "
                    f"with {r['with']['rps']:.0f} req/s (p99 {r['with']['p99_ms']:.1f} ms, "
                    f"{r['with']['viewers_open_after']} open after) -> {r['ratio']}; worker CPU per capture "
                    f"{r['without']['cpu_ms_per_capture']:.3f} vs {r['with']['cpu_ms_per_capture']:.3f} ms -> {r['cpu_ratio']}"
                )
            lr = p["loaded_round"]
            lf = lr["fanout"]
            print(
                f"  loaded round ({lr['load']['rps']:.0f} req/s): fan-out of {lf['captures']} captures p50 "
                f"{lf['pair_p50_ms']} / p90 {lf['pair_p90_ms']} / max {lf['pair_max_ms']} ms, "
                f"{lf['missed_pairs']} missed pairs"
            )
        rss, socks, d = p["rss_mib"], p["sockets"], p["drain"]
        print(
            f"  worker RSS MiB: idle {rss['idle']}, with viewers {rss['with_viewers']}, after close "
            f"{rss['after_close']}; sockets per worker (listener included) {socks['idle']} -> {socks['with_viewers']}; "
            f"streams ended {d['seconds']} s after close ({d['nudges']} nudges)"
        )
    print(f"\n{'goal':<84} {'met':<8} figure")
    for goal in report["goals"]:
        print(f"{goal['goal']:<84} {'met' if goal['met'] else 'NOT MET':<8} {goal['figure']}")
    for endpoint, p in report["phases"].items():
        logged = p["server_log"]
        if logged["matching_lines"]:
            print(
                f"{endpoint} server's log: {logged['matching_lines']} error/warning lines: {logged['first'][0][:200]}"
            )


if __name__ == "__main__":
    sys.exit(main())
