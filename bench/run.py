"""Benchmark Hookloupe's capture path against a no-op Flask app under the same gunicorn
settings, check every acknowledged capture was stored, and time capture→visible in Chromium.

    python bench/run.py [--client wrk|builtin] [--json out.json] ...

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import live, load, servers  # noqa: E402
from bench.load import LoadResult  # noqa: E402
from inspector.cli import default_workers  # noqa: E402

TARGET_RATIO = 0.6
# The three servers measured in each round: Hookloupe, the no-op app, the naive reference.
TARGETS = ["capture", "noop", "naive"]
# No capture may be pruned during the run, so stored can be compared to acknowledged.
NO_PRUNING = 1_000_000_000


@dataclass
class StoreCheck:
    bin_id: str
    acknowledged: int  # 2xx answers the load generator saw
    stored: int  # request_count from GET /api/bins/<bin>
    lost: int  # acknowledged but not stored
    unacknowledged: int  # stored without a 2xx seen (in flight when the load stopped, or timed out)
    by_id: bool  # True when lost was found by comparing request_ids, not only counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "builtin"],
        default="auto",
        help="load generator; auto = wrk when installed, else the built-in threaded client",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per target (targets alternate)")
    parser.add_argument("--seconds", type=float, default=10, help="length of one round")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured warm-up per target before the rounds")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk -t (threads of the load generator)")
    parser.add_argument("--body-bytes", type=int, default=1024, help="size of the JSON body POSTed")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="gunicorn workers for both servers (hookloupe serve's default)",
    )
    parser.add_argument("--threads", type=int, default=32, help="gunicorn threads per worker for both servers")
    parser.add_argument(
        "--database-url",
        default=None,
        help="HOOKLOUPE_DATABASE_URL for the server; unset means SQLite in a temporary folder",
    )
    parser.add_argument(
        "--live-samples",
        type=int,
        default=30,
        help="captures timed from POST to visible row in Chromium; 0 skips that part",
    )
    parser.add_argument("--json", metavar="PATH", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary folder (database, server logs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = args.client
    if client == "auto":
        client = "wrk" if load.have_wrk() else "builtin"
    elif client == "wrk" and not load.have_wrk():
        print("wrk is not installed (Debian: apt-get install wrk); use --client builtin", file=sys.stderr)
        return 2
    if args.rounds < 1 or args.seconds <= 0 or args.connections < 1:
        print("--rounds, --seconds and --connections must be positive", file=sys.stderr)
        return 2

    with contextlib.ExitStack() as stack:
        if args.keep_temp:
            workdir = Path(tempfile.mkdtemp(prefix="hookloupe-bench-"))
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hookloupe-bench-")))
        env = {"HOOKLOUPE_MAX_REQUESTS_PER_BIN": str(NO_PRUNING)}
        if args.database_url:
            env["HOOKLOUPE_DATABASE_URL"] = args.database_url
        hookloupe = servers.hookloupe_server(
            workdir, workdir / "instance", workers=args.workers, threads=args.threads, env=env
        )
        noop = servers.noop_server(workdir, workers=args.workers, threads=args.threads)
        naive = servers.naive_server(workdir, workers=args.workers, threads=args.threads)
        try:
            stack.enter_context(hookloupe)
            stack.enter_context(noop)
            stack.enter_context(naive)
        except servers.ServerError as error:
            print(f"server failed to start: {error}", file=sys.stderr)
            return 2
        if args.keep_temp:
            print(f"temporary folder (kept): {workdir}")
        try:
            report = benchmark(args, client, hookloupe, noop, naive, workdir)
        except (load.LoadError, servers.ServerError, OSError) as error:
            print(f"benchmark failed: {error}\n--- hookloupe log ---\n{hookloupe.log_tail()}", file=sys.stderr)
            return 2

    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nfigures written to {args.json}")
    return 1 if report["stored_vs_acknowledged"]["lost"] else 0


def benchmark(
    args, client: str, hookloupe: servers.Server, noop: servers.Server, naive: servers.Server, workdir: Path
) -> dict:
    body = load.json_body(args.body_bytes)
    prefix = f"bench-{secrets.token_hex(3)}"

    def drive(url: str, seconds: float) -> LoadResult:
        return load.run(
            client,
            url,
            body,
            seconds=seconds,
            connections=args.connections,
            wrk_threads=args.wrk_threads,
            workdir=workdir,
        )

    checks: list[StoreCheck] = []

    def drive_capture(label: str, seconds: float) -> LoadResult:
        bin_id = create_bin(hookloupe.port, f"{prefix}-{label}")
        result = drive(f"{hookloupe.url}/h/{bin_id}", seconds)
        checks.append(check_stored(hookloupe.port, bin_id, result))
        return result

    print(f"warming up ({args.warmup:g} s per target, {client}) ...", flush=True)
    if args.warmup > 0:
        drive_capture("warmup", args.warmup)
        drive(f"{noop.url}/h/warmup", args.warmup)
        drive(f"{naive.url}/h/warmup", args.warmup)

    rounds: list[dict] = []
    for number in range(1, args.rounds + 1):
        # Rotate which target goes first, so slow drift on the machine hits all of them.
        order = TARGETS[number % 3 :] + TARGETS[: number % 3]
        results = {}
        for target in order:
            print(f"round {number}/{args.rounds}: {target} ({args.seconds:g} s) ...", flush=True)
            if target == "capture":
                results[target] = drive_capture(f"r{number}", args.seconds)
            else:
                results[target] = drive(f"{(noop if target == 'noop' else naive).url}/h/{target}", args.seconds)
        rounds.append(results)

    capture = [r["capture"] for r in rounds]
    medians = {
        name: {
            "rps": statistics.median(r[name].rps for r in rounds),
            "p50_ms": statistics.median(r[name].p50_ms for r in rounds),
            "p99_ms": statistics.median(r[name].p99_ms for r in rounds),
        }
        for name in TARGETS
    }
    ratio = medians["capture"]["rps"] / medians["noop"]["rps"] if medians["noop"]["rps"] else 0.0
    naive_ratio = medians["naive"]["rps"] / medians["noop"]["rps"] if medians["noop"]["rps"] else 0.0

    live_part = measure_live(args, hookloupe, f"{prefix}-live")
    return {
        "settings": {
            "client": client,
            "rounds": args.rounds,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "connections": args.connections,
            "body_bytes": args.body_bytes,
            "workers": args.workers,
            "threads": args.threads,
            "database": "postgresql" if args.database_url else "sqlite",
        },
        "rounds": [{target: load.result_json(result) for target, result in r.items()} for r in rounds],
        "median": {name: {k: round(v, 3) for k, v in figures.items()} for name, figures in medians.items()},
        "ratio": round(ratio, 3),
        "naive_ratio": round(naive_ratio, 3),
        "target_ratio": TARGET_RATIO,
        "stored_vs_acknowledged": {
            "acknowledged": sum(c.acknowledged for c in checks),
            "stored": sum(c.stored for c in checks),
            "lost": sum(c.lost for c in checks),
            "unacknowledged": sum(c.unacknowledged for c in checks),
            "by_id": all(c.by_id for c in checks),
            "capture_non_2xx": sum(r.non_2xx for r in capture),
            "capture_errors": sum(r.errors for r in capture),
            "bins": [c.__dict__ for c in checks],
        },
        "live": live_part,
    }


def create_bin(port: int, name: str) -> str:
    status, answer = servers.post(port, "/api/bins", json.dumps({"name": name}).encode())
    if status != 201:
        raise servers.ServerError(f"POST /api/bins answered {status}: {answer[:300]!r}")
    return json.loads(answer)["id"]


def request_count(port: int, bin_id: str) -> int:
    status, answer = servers.get(port, f"/api/bins/{bin_id}", timeout=30)
    if status != 200:
        raise servers.ServerError(f"GET /api/bins/{bin_id} answered {status}: {answer[:300]!r}")
    return int(json.loads(answer)["request_count"])


def stored_ids(port: int, bin_id: str, expected: int) -> set[int]:
    """Every capture id in the bin, newest first in pages of 500 (bounded by `expected`)."""
    ids: set[int] = set()
    before = None
    for _ in range(expected // 500 + 3):
        query = f"limit=500&before={before}" if before is not None else "limit=500"
        status, answer = servers.get(port, f"/api/bins/{bin_id}/requests?{query}", timeout=30)
        if status != 200:
            raise servers.ServerError(f"listing {bin_id} answered {status}: {answer[:300]!r}")
        page = json.loads(answer)
        ids.update(row["id"] for row in page["requests"])
        before = page["next_before"]
        if before is None:
            break
    return ids


def check_stored(port: int, bin_id: str, result: LoadResult) -> StoreCheck:
    """Compare what the server stored in `bin_id` with the 2xx answers in `result`. Requests
    still in flight when the load stopped may commit a moment later: wait until the count
    holds still (at most 10 s)."""
    stored = request_count(port, bin_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        again = request_count(port, bin_id)
        if again == stored:
            break
        stored = again
    acknowledged = result.ok
    if len(result.ids) == acknowledged:
        present = stored_ids(port, bin_id, stored)
        lost = len(set(result.ids) - present)
        by_id = True
    else:  # an answer without a request_id: counts are all we can compare
        lost = max(0, acknowledged - stored)
        by_id = False
    return StoreCheck(bin_id, acknowledged, stored, lost, stored - (acknowledged - lost), by_id)


def measure_live(args, hookloupe: servers.Server, name: str) -> dict:
    if args.live_samples <= 0:
        return {"skipped": "--live-samples 0"}
    print(f"live page: {args.live_samples} captures timed in Chromium ...", flush=True)
    bin_id = create_bin(hookloupe.port, name)
    outcome = live.measure(hookloupe.url, bin_id, samples=args.live_samples)
    if isinstance(outcome, live.LiveSkip):
        return {"skipped": outcome.reason}
    return {
        "samples": len(outcome.samples_ms),
        "missed": outcome.missed,
        "median_ms": round(outcome.median_ms, 1),
        "p90_ms": round(outcome.p90_ms, 1),
    }


def print_report(report: dict) -> None:
    s = report["settings"]
    print()
    print(
        f"Hookloupe capture benchmark: {s['client']}, {s['connections']} connections, "
        f"{s['rounds']} rounds x {s['seconds']:g} s, {s['body_bytes']}-byte JSON POST"
    )
    print(
        f"all servers: gunicorn gthread, {s['workers']} workers x {s['threads']} threads; Hookloupe on {s['database']}"
    )
    print()
    print(f"{'round':<7}{'target':<9}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'2xx':>9}{'non-2xx':>9}{'errors':>8}")
    for number, r in enumerate(report["rounds"], 1):
        for target in TARGETS:
            f = r[target]
            print(
                f"{number:<7}{target:<9}{f['rps']:>10.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}"
                f"{f['ok']:>9}{f['non_2xx']:>9}{f['errors']:>8}"
            )
    m = report["median"]
    print()
    print(f"{'median':<16}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for target in TARGETS:
        print(f"{target:<16}{m[target]['rps']:>10.0f}{m[target]['p50_ms']:>9.2f}{m[target]['p99_ms']:>9.2f}")
    verdict = "meets" if report["ratio"] >= report["target_ratio"] else "BELOW"
    print(
        f"\nratio capture/no-op (median req/s): {report['ratio']:.2f}  ({verdict} the {report['target_ratio']} target)"
    )
    print(f"reference: naive Flask + one SQLite row per request / no-op: {report['naive_ratio']:.2f}")

    c = report["stored_vs_acknowledged"]
    how = "by request_id" if c["by_id"] else "by count"
    lost = f"LOST {c['lost']}" if c["lost"] else "lost 0"
    print(
        f"stored vs acknowledged ({how}, all capture runs incl. warm-up): "
        f"acknowledged {c['acknowledged']}, stored {c['stored']}, {lost}"
    )
    if c["unacknowledged"]:
        print(f"  {c['unacknowledged']} stored without a 2xx seen (in flight when the load stopped, or timed out)")
    if c["capture_non_2xx"] or c["capture_errors"]:
        print(f"  capture answered non-2xx {c['capture_non_2xx']} times; {c['capture_errors']} requests got no answer")

    lv = report["live"]
    if "skipped" in lv:
        print(f"capture->visible in Chromium: SKIPPED ({lv['skipped']})")
    else:
        missed = f", {lv['missed']} missed" if lv["missed"] else ""
        print(
            f"capture->visible in Chromium: median {lv['median_ms']:.0f} ms, p90 {lv['p90_ms']:.0f} ms "
            f"({lv['samples']} samples{missed})"
        )


if __name__ == "__main__":
    sys.exit(main())
