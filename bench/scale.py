"""Time Hookloupe on a database of a million captures: reads, clear-all, pruning, disk and memory (issue 15).

    python bench/scale.py [--quick] [--captures-per-bin 100000] [--total 1000000]
                          [--database-url URL --reset-database] [--json out.json]

Points 4 and 5 (memory) of issue 15. Steps: build the database (bench/scale_data.py: the
server's schema, rows written directly); start `hookloupe serve` on it (default settings,
except that the instance default prunes nothing: only a bin's own max_requests does); then
- read timings on the big bin, each the median of keep-alive loopback requests (wall time,
  what a user sees);
- capture latency over one janitor interval (each worker's janitor looks at every bin);
- `--posted` captures POSTed through the server (wrk with bench/post.lua when installed);
- clear-all of the big bin, then a prune of 90% of a second bin of the same size (its
  max_requests lowered, the janitor does the rest), each while a capture probe (4 keep-alive
  connections, one signed capture every 20 ms each) runs against another bin: its latency
  before, during and after;
- bytes on disk per capture (as built, and for the captures POSTed), and each gunicorn
  worker's RSS idle at start, after the reads, after the POSTs and at the end.
Prints every figure with its goal. Exit status: 0 when everything ran (a goal missed is
reported, not a failure: timings on a shared machine are noisy), 1 when a request answered
an unexpected status or a step did not finish within its bound, 2 when the database could
not be built or the server did not start.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load, parse_with_quick, scale_data, servers  # noqa: E402
from inspector.cli import default_workers  # noqa: E402

# The instance default: no bin is pruned unless its own max_requests says so.
NO_PRUNING = 1_000_000_000
# The secret the load and probe bins hold (their captures are signed GitHub pushes).
SECRET = "scale-bench-github-secret"
# Goals in ms (issue 15 point 4; text search: issue 13). None: reported without a goal.
GOAL_BIN_PAGE_MS = 150
GOAL_LIST_MS = 50
GOAL_FILTER_MS = 100
GOAL_TEXT_MS = 300
GOAL_CLEAR_MS = 2000
# A capture must be answered 2xx within 1 s while a clear or prune runs (bench/held.py's goal).
GOAL_CAPTURE_MAX_MS = 1000
GOAL_RSS_GROWTH_MIB = 20
# A clear or prune counts as going on until this many seconds after it is over: on SQLite the
# first commit after a large delete checkpoints its WAL, and captures wait for that too.
SETTLE_S = 2
QUICK = {
    "captures_per_bin": 5_000,
    "total": 20_000,
    "repetitions": 3,
    "posted": 3_000,
    "prune_interval": 2,
    "budget": 8,
}


@dataclass
class Figure:
    """One measured figure: `value` in `unit`, met when at most `goal` (None: no goal)."""

    key: str
    label: str
    value: float | None
    unit: str
    goal: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.value is None:
            return None
        return self.value <= self.goal

    def as_json(self) -> dict[str, Any]:
        value = None if self.value is None else round(self.value, 3)
        return {
            "label": self.label,
            "value": value,
            "unit": self.unit,
            "goal": self.goal,
            "met": self.met,
            **self.detail,
        }


class Failed(Exception):
    """A request answered an unexpected status, or a step did not finish within its bound."""


# --- HTTP ------------------------------------------------------------------------------------


class Client:
    """One keep-alive loopback connection; `call` returns (status, body, seconds of wall time).
    A connection the server closed meanwhile (keep-alive timeout) is reopened once."""

    def __init__(self, port: int, timeout_s: float = 180.0):
        self.port = port
        self.timeout_s = timeout_s
        self.conn: http.client.HTTPConnection | None = None

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes, float]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(servers.HOST, self.port, timeout=self.timeout_s)
                self.conn.connect()
            try:
                began = time.perf_counter()
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                elapsed = time.perf_counter() - began
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, data, elapsed
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, payload: Any = None, expect: int = 200) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data, _ = self.call(method, path, body, {"Content-Type": "application/json"} if body else None)
        if status != expect:
            raise Failed(f"{method} {path} answered {status}, not {expect}: {data[:300]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def timed(client: Client, path: str, *, repetitions: int, budget_s: float, expect: int = 200) -> dict[str, Any]:
    """Median wall ms of GET `path` over `repetitions` calls after one unmeasured call (a
    warm-up slower than `budget_s` / 3 counts as the sample). Stops early once `budget_s` is
    spent with at least 3 samples, or after one sample slower than `budget_s` / 3 (a slow
    route is not repeated for minutes). Raises Failed on any other status than `expect`."""
    samples: list[float] = []
    size = 0
    spent = 0.0
    warm = True
    while len(samples) < repetitions:
        status, data, seconds = client.call("GET", path)
        if status != expect:
            raise Failed(f"GET {path} answered {status}, not {expect}: {data[:300]!r}")
        size = len(data)
        spent += seconds
        if warm and seconds < budget_s / 3:
            warm = False
            continue
        warm = False
        samples.append(seconds * 1000)
        if (spent > budget_s and len(samples) >= 3) or seconds > budget_s / 3:
            break
    return {
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
        "samples": len(samples),
        "bytes": size,
    }


def get_json(client: Client, path: str) -> Any:
    return client.json("GET", path)


def pct(ordered: list[float], p: float) -> float | None:
    """Nearest-rank percentile of a sorted list; None when it is empty."""
    return load.percentile(ordered, p) if ordered else None


# --- capture probe ---------------------------------------------------------------------------


class CaptureProbe:
    """Threads that POST signed 1 KiB GitHub captures to one bin, each on its own keep-alive
    connection, one every `interval_s`, recording (start, seconds, status) of every capture
    (status 0: no answer within the timeout)."""

    def __init__(self, port: int, bin_id: str, *, connections: int = 4, interval_s: float = 0.02):
        self.port = port
        self.path = f"/h/{bin_id}"
        self.request = load.github_request(1024, SECRET)
        self.connections = connections
        self.interval_s = interval_s
        self.samples: list[tuple[float, float, int]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> CaptureProbe:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.connections)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        client = Client(self.port, timeout_s=30)
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                status, _, seconds = client.call("POST", self.path, self.request.body, self.request.headers_for_one())
            except (OSError, http.client.HTTPException):
                status, seconds = 0, time.perf_counter() - began
                client.close()
            with self._lock:
                self.samples.append((began, seconds, status))
            self._stop.wait(self.interval_s)
        client.close()

    def window(self, start: float, end: float, *, in_flight: bool = True) -> dict[str, Any]:
        """Captures in flight at some moment of [start, end] (`in_flight`), else those sent and
        answered within it: count, p50/p99/max ms, not 2xx, over 1 s."""
        with self._lock:
            if in_flight:
                inside = [(s, status) for began, s, status in self.samples if began <= end and began + s >= start]
            else:
                inside = [(s, status) for began, s, status in self.samples if began >= start and began + s <= end]
        ordered = sorted(s * 1000 for s, _ in inside)
        return {
            "captures": len(inside),
            "p50_ms": pct(ordered, 50),
            "p99_ms": pct(ordered, 99),
            "max_ms": ordered[-1] if ordered else None,
            "not_2xx": sum(1 for _, status in inside if not 200 <= status < 300),
            "over_1s": sum(1 for s in ordered if s > 1000),
            "window_s": round(end - start, 3),
        }


# --- memory and disk -------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the children of the master process (every thread's list)."""
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        with contextlib.suppress(OSError):
            children.update(int(pid) for pid in (task / "children").read_text().split())
    return sorted(children)


def rss_mib(pid: int, field: str = "VmRSS") -> float | None:
    """`field` of /proc/<pid>/status (VmRSS: resident now; VmHWM: its peak) in MiB; None when
    the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def workers_rss(server: servers.Server, field: str = "VmRSS") -> dict[str, float | None]:
    assert server.process is not None
    return {str(pid): rss_mib(pid, field) for pid in worker_pids(server.process.pid)}


def disk_usage(url: str, sqlite_path: Path | None) -> dict[str, int]:
    """Bytes the captures take and how many rows there are: the SQLite file and its WAL, or
    pg_total_relation_size('captures') (table, TOAST and indexes)."""
    if sqlite_path is not None:
        import sqlite3

        files = {name: sqlite_path.with_name(sqlite_path.name + name) for name in ("", "-wal")}
        conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT count(*) FROM captures").fetchone()[0]
        finally:
            conn.close()
        sizes = {name or "db": path.stat().st_size if path.exists() else 0 for name, path in files.items()}
        return {"bytes": sum(sizes.values()), "rows": rows, **{f"{k.strip('-')}_bytes": v for k, v in sizes.items()}}
    import psycopg

    with psycopg.connect(_libpq_url(url)) as conn:
        size, table, rows = conn.execute(
            "SELECT pg_total_relation_size('captures'), pg_table_size('captures'), count(*) FROM captures"
        ).fetchone()
    return {"bytes": size, "rows": rows, "table_bytes": table, "index_bytes": size - table}


def _libpq_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def reset_postgresql(url: str) -> None:
    """Drop Hookloupe's tables in the database of `url` (never the shared `test` database)."""
    import psycopg

    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        if name == "test":
            raise ValueError("refusing to reset the database `test`: others use it; create one of your own")
        for table in ("forward_jobs", "deliveries", "secrets", "captures", "bins", "alembic_version"):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")


# --- the steps -------------------------------------------------------------------------------


def measure_reads(client: Client, data: scale_data.Dataset, args: argparse.Namespace) -> list[Figure]:
    """Every read timing on the big bin."""
    big = data.big_bin
    api = f"/api/bins/{big}/requests"
    reps, budget = args.repetitions, args.budget
    figures: list[Figure] = []

    def add(key: str, label: str, path: str, goal: float | None, **extra: Any) -> dict[str, Any]:
        print(f"  {label}: GET {path}", flush=True)
        result = timed(client, path, repetitions=reps, budget_s=budget)
        figures.append(Figure(key, label, result["median_ms"], "ms", goal, {"path": path, **result, **extra}))
        return result

    add("bin_page", "bin page", f"/bins/{big}", GOAL_BIN_PAGE_MS)
    add("bin_page_provider", "bin page, provider=stripe", f"/bins/{big}?provider=stripe", GOAL_BIN_PAGE_MS)
    add("bin_page_q", "bin page, search q (one match, the oldest)", f"/bins/{big}?q={data.rare_needle}", GOAL_TEXT_MS)
    add("bin_show", "API bin (with request_count)", f"/api/bins/{big}", GOAL_LIST_MS)
    add("list", "API list, first page (limit=50)", f"{api}?limit=50", GOAL_LIST_MS)
    first = get_json(client, f"{api}?limit=50")
    add(
        "list_page2",
        "API list, page 2 (before=next_before)",
        f"{api}?limit=50&before={first['next_before']}",
        GOAL_LIST_MS,
    )
    before, depth = page_cursor(client, f"{api}?limit=50", 100)
    add(
        "list_page100", f"API list, page {depth} (cursor)", f"{api}?limit=50&before={before}", GOAL_LIST_MS, depth=depth
    )
    add("provider", "API list, provider=stripe", f"{api}?limit=50&provider=stripe", GOAL_FILTER_MS)
    before, depth = page_cursor(client, f"{api}?limit=50&provider=stripe", 20)
    add(
        "provider_deep",
        f"API list, provider=stripe, page {depth}",
        f"{api}?limit=50&provider=stripe&before={before}",
        GOAL_FILTER_MS,
        depth=depth,
    )
    add("verdict", "API list, verdict=invalid", f"{api}?limit=50&verdict=invalid", GOAL_FILTER_MS)
    add("count_provider", "API count, provider=stripe", f"{api}/count?provider=stripe", GOAL_FILTER_MS)
    add("count", "API count, no filter", f"{api}/count", GOAL_FILTER_MS)
    add("stats", "API stats", f"/api/bins/{big}/stats", GOAL_FILTER_MS)
    add("text_common", "API list, text= (~2% of rows match)", f"{api}?limit=50&text={data.common_needle}", GOAL_TEXT_MS)
    add("text_rare", "API list, text= (one match, the oldest)", f"{api}?limit=50&text={data.rare_needle}", GOAL_TEXT_MS)
    add("q_rare", "API list, q= (SQL search, one match)", f"{api}?limit=50&q={data.rare_needle}", GOAL_TEXT_MS)
    return figures


def page_cursor(client: Client, path: str, page: int) -> tuple[int | None, int]:
    """The `before` cursor of page `page` of a list (following next_before), and the page it
    is for: the last page there is when the list is shorter."""
    before = None
    reached = 1
    for _ in range(page - 1):
        query = f"{path}&before={before}" if before is not None else path
        answer = get_json(client, query)
        if answer["next_before"] is None:
            break
        before = answer["next_before"]
        reached += 1
    return before, reached


def post_captures(server: servers.Server, client: Client, bin_id: str, args: argparse.Namespace, workdir: Path) -> dict:
    """POST signed captures to `bin_id` until it holds `args.posted` (wrk, or the built-in
    client), in runs of at most 30 s, within `args.posted / 200 + 120` seconds; then wait
    (bounded) until the analyser has analysed them all."""
    request = load.github_request(1024, SECRET)
    kind = "wrk" if load.have_wrk() else "builtin"
    url = f"{server.url}/h/{bin_id}"
    stored, rate, runs = 0, 1500.0, []
    deadline = time.monotonic() + args.posted / 200 + 120
    began = time.monotonic()
    while stored < args.posted and time.monotonic() < deadline:
        seconds = min(30.0, max(1.0, (args.posted - stored) / rate))
        result = load.run(kind, url, request, seconds=seconds, connections=16, wrk_threads=2, workdir=workdir)
        runs.append(load.result_json(result))
        stored = get_json(client, f"/api/bins/{bin_id}")["request_count"]
        rate = max(100.0, result.rps)
    elapsed = time.monotonic() - began
    if stored < args.posted:
        raise Failed(f"only {stored} of {args.posted} captures stored within the bound")
    waited_from = time.monotonic()
    unanalysed = None
    while time.monotonic() - waited_from < 180:
        unanalysed = get_json(client, f"/api/bins/{bin_id}/stats")["unanalysed"]
        if unanalysed == 0:
            break
        time.sleep(1)
    return {
        "client": kind,
        "stored": stored,
        "seconds": round(elapsed, 1),
        "rps": round(stored / elapsed, 1) if elapsed else None,
        "runs": runs,
        "unanalysed_after_wait": unanalysed,
        "analysis_wait_s": round(time.monotonic() - waited_from, 1),
    }


def clear_all(port: int, client: Client, data: scale_data.Dataset) -> dict:
    """DELETE every capture of the big bin while the probe captures into the probe bin."""
    probe = CaptureProbe(port, data.probe_bin).start()
    try:
        time.sleep(3)
        start = time.perf_counter()
        status, answer, seconds = client.call("DELETE", f"/api/bins/{data.big_bin}/requests")
        end = time.perf_counter()
        time.sleep(SETTLE_S + 2)
    finally:
        probe.stop()
    if status != 204:
        raise Failed(f"clear-all answered {status}: {answer[:300]!r}")
    left = get_json(client, f"/api/bins/{data.big_bin}")["request_count"]
    return {
        "ms": seconds * 1000,
        "deleted": data.rows[data.big_bin],
        "left": left,
        "before": probe.window(start - 3, start, in_flight=False),
        "during": probe.window(start, end + SETTLE_S),
        "after": probe.window(end + SETTLE_S, end + SETTLE_S + 2, in_flight=False),
    }


def prune(port: int, client: Client, data: scale_data.Dataset, args: argparse.Namespace) -> dict:
    """Lower the prune bin's max_requests to a tenth and wait for the janitor to prune it
    (polling its count every 0.25 s), while the probe captures into the probe bin."""
    held = data.rows[data.prune_bin]
    keep = max(1, held // 10)
    probe = CaptureProbe(port, data.probe_bin).start()
    try:
        time.sleep(3)
        start = time.perf_counter()
        client.json("PATCH", f"/api/bins/{data.prune_bin}", {"max_requests": keep})
        bound = start + 2 * args.prune_interval + 120
        count = held
        while count > keep and time.perf_counter() < bound:
            time.sleep(0.25)
            count = get_json(client, f"/api/bins/{data.prune_bin}")["request_count"]
        end = time.perf_counter()
        time.sleep(SETTLE_S + 2)
    finally:
        probe.stop()
    if count > keep:
        raise Failed(f"the janitor had not pruned {data.prune_bin} ({count} > {keep}) within the bound")
    # The prune itself is a moment inside the window: the captures that waited longest say how long.
    return {
        "held": held,
        "kept": count,
        "seen_after_s": round(end - start, 2),
        "prune_interval_s": args.prune_interval,
        "before": probe.window(start - 3, start, in_flight=False),
        "during": probe.window(start, end + SETTLE_S),
        "after": probe.window(end + SETTLE_S, end + SETTLE_S + 2, in_flight=False),
    }


def janitor_pass(port: int, data: scale_data.Dataset, args: argparse.Namespace) -> dict:
    """Capture latency over one janitor interval plus 2 s, with nothing due for pruning: each
    worker's janitor looks at every bin's count once in that time."""
    probe = CaptureProbe(port, data.probe_bin).start()
    try:
        start = time.perf_counter()
        time.sleep(args.prune_interval + 2)
        end = time.perf_counter()
    finally:
        probe.stop()
    return probe.window(start, end, in_flight=False)


def server_log_findings(server: servers.Server, limit: int = 20) -> dict:
    text = server.log_tail(chars=5_000_000)
    markers = ("Traceback", "[ERROR]", "[CRITICAL]", "WARNING", "Exception", "Error:", "WORKER TIMEOUT")
    lines = [line for line in text.splitlines() if any(marker in line for marker in markers)]
    return {"matching_lines": len(lines), "first": lines[:limit]}


# --- main ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run (< 60 s): " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    parser.add_argument(
        "--captures-per-bin", type=int, default=100_000, help="captures of the big bin (and the prune bin)"
    )
    parser.add_argument("--total", type=int, default=1_000_000, help="captures in the database")
    parser.add_argument(
        "--other-bins", type=int, default=0, help="bins sharing the rest of --total; 0: one per 5,000 captures (min 10)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL of a database of your own (never `test`); unset: SQLite in a temporary instance",
    )
    parser.add_argument("--reset-database", action="store_true", help="drop Hookloupe's tables in --database-url first")
    parser.add_argument(
        "--repetitions", type=int, default=11, help="timed calls per read figure (the median is reported)"
    )
    parser.add_argument(
        "--budget", type=float, default=30, help="seconds one read figure may take before it stops repeating"
    )
    parser.add_argument(
        "--posted", type=int, default=100_000, help="captures POSTed through the server for the RSS figure"
    )
    parser.add_argument(
        "--prune-interval", type=float, default=30, help="HOOKLOUPE_PRUNE_INTERVAL_S of the server (30 is the default)"
    )
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="gunicorn workers (hookloupe serve's default)"
    )
    parser.add_argument("--json", metavar="PATH", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary folder (database, server log)")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return parse_with_quick(build_parser(), QUICK, argv)


def main(argv: list[str] | None = None) -> int:
    status, report = measure(parse_args(argv))
    if report is None:
        return status
    print_report(report)
    if report["settings"].get("json"):
        Path(report["settings"]["json"]).write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nfigures written to {report['settings']['json']}")
    return status


def run(argv: list[str]) -> dict:
    """The measurement for bench/run.py: the report (not printed; `print_report` prints it),
    with `status` 0, or `{"status": 1 or 2, "error": …}` when a step failed."""
    status, report = measure(parse_args(argv))
    return {"status": status, **report} if report is not None else {"status": status, "error": f"exit status {status}"}


def measure(args: argparse.Namespace) -> tuple[int, dict | None]:
    """Build the database, run the steps, return (exit status, report); None when it failed."""
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        if args.keep_temp:
            workdir = Path(tempfile.mkdtemp(prefix="hookloupe-scale-"))
            print(f"temporary folder (kept): {workdir}")
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hookloupe-scale-")))
        instance = workdir / "instance"
        instance.mkdir()
        sqlite_path = None if args.database_url else instance / "hookloupe.db"
        url = args.database_url or f"sqlite:///{sqlite_path}"
        rest = args.total - 2 * args.captures_per_bin
        other_bins = args.other_bins or max(10, rest // 5000)
        try:
            if args.database_url and args.reset_database:
                reset_postgresql(args.database_url)
            print(
                f"building the database: {args.total:,} captures, {args.captures_per_bin:,} in the big bin "
                f"and in the prune bin, the rest over {other_bins} bins ...",
                flush=True,
            )
            step = max(1, args.total // 5 // scale_data.BATCH) * scale_data.BATCH

            def progress(written: int, total: int) -> None:
                if written % step == 0 or written == total:
                    print(f"  {written:,} / {total:,} captures written", flush=True)

            data = scale_data.build(
                _sqlalchemy_url(url),
                captures_per_bin=args.captures_per_bin,
                total=args.total,
                other_bins=other_bins,
                progress=progress,
            )
        except ValueError as error:
            print(f"cannot build the database: {error}", file=sys.stderr)
            return 2, None
        print(f"built in {data.seconds:.0f} s", flush=True)
        disk_built = disk_usage(url, sqlite_path)

        env = {
            "HOOKLOUPE_MAX_REQUESTS_PER_BIN": str(NO_PRUNING),
            "HOOKLOUPE_PRUNE_INTERVAL_S": str(args.prune_interval),
        }
        if args.database_url:
            env["HOOKLOUPE_DATABASE_URL"] = args.database_url
        server = servers.hookloupe_server(workdir, instance, workers=args.workers, connections=1000, env=env)
        try:
            stack.enter_context(server)
        except servers.ServerError as error:
            print(f"server failed to start: {error}", file=sys.stderr)
            return 2, None
        try:
            report = run_steps(server, data, args, workdir, url, sqlite_path)
        except (Failed, load.LoadError, OSError) as error:
            print(f"scale benchmark failed: {error}\n--- hookloupe log ---\n{server.log_tail()}", file=sys.stderr)
            return 1, None
        report["server_log"] = server_log_findings(server)
    report["disk"]["built"] = disk_built
    report["disk"]["bytes_per_capture_built"] = round(disk_built["bytes"] / max(1, disk_built["rows"]), 1)
    report["settings"] = {
        "database": data.database,
        "captures_per_bin": args.captures_per_bin,
        "total": args.total,
        "other_bins": other_bins,
        "repetitions": args.repetitions,
        "posted": args.posted,
        "prune_interval_s": args.prune_interval,
        "workers": args.workers,
        "build_s": round(data.seconds, 1),
        "run_s": round(time.monotonic() - began, 1),
        "json": str(args.json) if args.json else None,
    }
    return 0, report


def _sqlalchemy_url(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def run_steps(
    server: servers.Server,
    data: scale_data.Dataset,
    args: argparse.Namespace,
    workdir: Path,
    url: str,
    sqlite_path: Path | None,
) -> dict:
    """Everything measured on the running server, in order (see the module docstring)."""
    client = Client(server.port)
    time.sleep(2)  # let both workers finish starting
    rss = {"idle": workers_rss(server)}
    for bin_id in (data.load_bin, data.probe_bin):  # empty bins: adding a secret re-checks nothing
        payload = {"label": "bench", "value": SECRET, "provider": "github"}
        client.json("POST", f"/api/bins/{bin_id}/secrets", payload, expect=201)

    print(f"reads on the big bin ({data.rows[data.big_bin]:,} captures), medians of {args.repetitions}:", flush=True)
    figures = measure_reads(client, data, args)
    rss["after_reads"] = workers_rss(server)

    print(f"capture latency over one janitor interval ({args.prune_interval:g} s + 2 s) ...", flush=True)
    idle = janitor_pass(server.port, data, args)

    print(f"posting {args.posted:,} captures through the server ...", flush=True)
    before_posts = disk_usage(url, sqlite_path)
    posted = post_captures(server, client, data.load_bin, args, workdir)
    time.sleep(2)
    rss["after_posts"] = workers_rss(server)
    after_posts = disk_usage(url, sqlite_path)
    grown = after_posts["bytes"] - before_posts["bytes"]
    added = after_posts["rows"] - before_posts["rows"]

    print("clear-all of the big bin while captures run ...", flush=True)
    cleared = clear_all(server.port, client, data)
    if cleared["left"]:
        raise Failed(f"clear-all left {cleared['left']} captures in {data.big_bin}")
    print(
        f"prune of the prune bin to a tenth (janitor every {args.prune_interval:g} s) while captures run ...",
        flush=True,
    )
    pruned = prune(server.port, client, data, args)
    rss["end"] = workers_rss(server)
    rss["peak"] = workers_rss(server, "VmHWM")
    client.close()

    figures += [
        Figure("capture_idle_p99", "capture p99 over one janitor interval", idle["p99_ms"], "ms", None, idle),
        Figure("capture_idle_max", "capture max over one janitor interval", idle["max_ms"], "ms", GOAL_CAPTURE_MAX_MS),
        Figure("clear_all", f"clear-all of {cleared['deleted']:,} captures", cleared["ms"], "ms", GOAL_CLEAR_MS),
        Figure(
            "capture_before_clear",
            "capture p99 before the clear",
            cleared["before"]["p99_ms"],
            "ms",
            None,
            cleared["before"],
        ),
        Figure(
            "capture_during_clear",
            f"capture max while clearing (and {SETTLE_S} s after)",
            cleared["during"]["max_ms"],
            "ms",
            GOAL_CAPTURE_MAX_MS,
            cleared["during"],
        ),
        Figure(
            "capture_during_prune",
            f"capture max while pruning {pruned['held'] - pruned['kept']:,} (and {SETTLE_S} s after)",
            pruned["during"]["max_ms"],
            "ms",
            GOAL_CAPTURE_MAX_MS,
            pruned["during"],
        ),
    ]
    growth = {
        pid: (None if rss["after_posts"].get(pid) is None else rss["after_posts"][pid] - idle)
        for pid, idle in rss["idle"].items()
        if idle is not None
    }
    worst = max((g for g in growth.values() if g is not None), default=None)
    figures.append(
        Figure(
            "rss_growth", f"worker RSS growth after {posted['stored']:,} captures", worst, "MiB", GOAL_RSS_GROWTH_MIB
        )
    )
    return {
        "figures": {figure.key: figure.as_json() for figure in figures},
        "rss_mib": rss,
        "rss_growth_mib": growth,
        "posted": posted,
        "janitor_interval": idle,
        "clear_all": cleared,
        "prune": pruned,
        "disk": {
            "before_posts": before_posts,
            "after_posts": after_posts,
            "bytes_per_capture_posted": round(grown / added, 1) if added > 0 else None,
            # SQLite: the WAL keeps its high-water size, so the main file alone says more over time.
            "bytes_per_capture_posted_db_file": (
                round((after_posts["db_bytes"] - before_posts["db_bytes"]) / added, 1)
                if added > 0 and "db_bytes" in after_posts
                else None
            ),
        },
        "dataset": {
            "big_bin": data.big_bin,
            "rows": data.rows[data.big_bin],
            "bins": len(data.bins),
            "mix": [{"provider": p, "verdict": v, "percent": w} for p, v, w in scale_data.MIX],
        },
    }


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def print_report(report: dict) -> None:
    s = report["settings"]
    print()
    print(
        f"Hookloupe at scale: {s['database']}, {s['total']:,} captures ({s['captures_per_bin']:,} in the big bin), "
        f"{s['workers']} workers; medians of up to {s['repetitions']} keep-alive loopback requests (wall ms)"
    )
    print()
    print(f"{'figure':<52}{'value':>12}{'goal':>10}  met")
    for figure in report["figures"].values():
        unit = figure["unit"]
        value = _ms(figure["value"]) + f" {unit}"
        goal = "—" if figure["goal"] is None else f"≤ {figure['goal']:g}"
        met = {True: "yes", False: "NO", None: ""}[figure["met"]]
        extra = (
            f"  ({figure['samples']} samples, {figure['min_ms']:.0f}-{figure['max_ms']:.0f} ms)"
            if "samples" in figure
            else ""
        )
        print(f"{figure['label']:<52}{value:>12}{goal:>10}  {met}{extra}")
    c, p = report["clear_all"], report["prune"]
    print()
    for name, part in (("clear-all", c), ("prune", p)):
        for when in ("before", "during", "after"):
            w = part[when]
            print(
                f"capture latency {when:<6} {name:<9}: {w['captures']:>5} captures, p50 {_ms(w['p50_ms'])} ms, "
                f"p99 {_ms(w['p99_ms'])} ms, max {_ms(w['max_ms'])} ms, not 2xx {w['not_2xx']}, "
                f"over 1 s {w['over_1s']} (window {w['window_s']:.1f} s)"
            )
    print(f"prune: {p['held']:,} -> {p['kept']:,} captures, seen {p['seen_after_s']:.1f} s after the PATCH")
    d = report["disk"]
    built = d["built"]
    if s["database"] == "sqlite":
        what = "database file + WAL"
        posted_more = f", {d['bytes_per_capture_posted_db_file'] or 0:,.0f} (main file only)"
    else:
        what = "pg_total_relation_size('captures')"
        posted_more = " (the analyser's UPDATE leaves a dead row version until vacuum)"
    print(
        f"disk ({what}): {d['bytes_per_capture_built']:,.0f} bytes per capture as built "
        f"({built['bytes'] / 1e6:,.0f} MB / {built['rows']:,} rows); POSTed through the server: "
        f"{d['bytes_per_capture_posted'] or 0:,.0f} bytes per capture{posted_more}"
    )
    rss = report["rss_mib"]
    for stage, values in rss.items():
        shown = ", ".join(f"{pid}: {mib:.1f}" for pid, mib in values.items() if mib is not None)
        print(f"worker RSS MiB {stage:<12} {shown}")
    posted = report["posted"]
    print(
        f"posted: {posted['stored']:,} captures in {posted['seconds']:.0f} s ({posted['rps']} /s, {posted['client']}); "
        f"unanalysed after {posted['analysis_wait_s']} s: {posted['unanalysed_after_wait']}"
    )
    logged = report["server_log"]
    if logged["matching_lines"]:
        print(f"Hookloupe's log: {logged['matching_lines']} error/warning lines, first: {logged['first'][0][:200]}")
    failed = [f["label"] for f in report["figures"].values() if f["met"] is False]
    print(f"goals not met: {', '.join(failed) if failed else 'none'}")
    print(f"run took {s['run_s']:.0f} s (database built in {s['build_s']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
